//! zstd, as both SQL backends store compressed blobs (span bodies; SQLite's
//! texts and chunks): frames that carry their size, compressed with a reused
//! context and read back with one decompression context a thread. Span
//! bodies written before zstd are raw deflate and still read.
//!
//! Most blobs are small (a span body, a chat message, a chunk of a request:
//! medians of 130 to 640 bytes), and a small frame compressed alone pays
//! for what it cannot share: zstd builds its Huffman and FSE tables for
//! every frame (a third of the compression's time) and finds no earlier
//! occurrence of the attribute names and message shapes every span repeats.
//! So a store that trains ([`Dictionaries::training`], SQLite's) learns a
//! zstd dictionary from what it compresses: it takes [`SAMPLE_BYTES`] of
//! samples (one blob in [`SAMPLE_ONE_IN`] of those it compresses), trains
//! on a thread of its own, and offers the dictionary only if it makes
//! held-out samples at least a tenth smaller than what compresses them
//! today. The store writes the
//! dictionary to its table before it compresses anything with it
//! ([`Dictionaries::take_trained`], [`Dictionaries::adopt`]); every frame
//! names its dictionary by id (zstd's own header field), and dictionaries
//! are never deleted, so every frame stays readable. Each
//! [`RETRAIN_AFTER_BYTES`] compressed after that, it samples and trains
//! again, and a new dictionary replaces the current one for new frames only
//! where it is again a tenth better (what the application sends changed).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::store::StoreError;
use crate::store::sql::{SqlTx, SqlValue};

/// The largest span body read back (a body's size is in its frame; this
/// bounds what a damaged one could make us allocate).
const BODY_MAX_BYTES: usize = 1 << 30;

/// zstd's level: the fastest of its standard levels, and on chat text about
/// as small as deflate's default.
pub const ZSTD_LEVEL: i32 = 1;

/// What a training reads: one in [`SAMPLE_ONE_IN`] of the blobs compressed
/// since the store opened (or since the last training,
/// [`RETRAIN_AFTER_BYTES`] later). zstd suggests about a hundred times the
/// dictionary's size.
pub const SAMPLE_BYTES: usize = 1 << 20;

/// Samples are one blob in this many, so that they span several requests
/// and mix span bodies and texts as the stream does: the first megabyte
/// alone was at times one request's bodies, and its dictionary (the JSON of
/// attribute names) made texts larger than none did (history-heavy bench:
/// the database 1,128–1,429 B a span from run to run).
pub const SAMPLE_ONE_IN: u64 = 4;

/// The most of one blob taken as a sample (its start: a long text's start is
/// where its shape is).
const SAMPLE_MAX_BYTES: usize = 16 << 10;

/// A trained dictionary's size. Larger ones compressed the benchmark's and
/// the tests' blobs no smaller, and each frame's context loads the whole.
const DICTIONARY_BYTES: usize = 16 << 10;

/// Bytes compressed between two trainings.
pub const RETRAIN_AFTER_BYTES: u64 = 256 << 20;

/// One sample in this many is held out of the training, to judge the result.
const HELD_OUT_EVERY: usize = 8;

/// A new dictionary is offered only if it makes the held-out samples this
/// much of what they take today, or less.
const BETTER_RATIO: f64 = 0.9;

/// The first id a store gives its dictionaries: zstd leaves ids below it to
/// public registration, and frames name their dictionary by this id.
pub const FIRST_DICTIONARY_ID: u32 = 32_768;

/// A zstd dictionary (its id, which its frames carry, is in its bytes).
pub struct Dictionary {
    bytes: Box<[u8]>,
    /// Unique in the process (two stores may give different dictionaries the
    /// same id): which thread-local contexts have it loaded.
    serial: u64,
}

impl Dictionary {
    fn new(bytes: Vec<u8>) -> Arc<Self> {
        static SERIALS: AtomicU64 = AtomicU64::new(1);
        Arc::new(Self {
            bytes: bytes.into_boxed_slice(),
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
        })
    }
}

/// A store's dictionaries: every one its frames may name, the one new frames
/// use, and (for a store that trains) the samples and training of the next.
#[derive(Default)]
pub struct Dictionaries {
    by_id: RwLock<HashMap<u32, Arc<Dictionary>>>,
    current: RwLock<Option<Arc<Dictionary>>>,
    training: Option<Training>,
}

/// Samples taken for the next dictionary, and what was trained from them.
#[derive(Default)]
struct Training {
    /// Bytes compressed since the store opened.
    compressed: AtomicU64,
    /// Blobs compressed while samples are taken (every [`SAMPLE_ONE_IN`]th
    /// is one).
    blobs: AtomicU64,
    /// From how many bytes compressed on samples are taken (`u64::MAX`: not
    /// until a running training ends).
    sample_from: AtomicU64,
    samples: Mutex<Samples>,
    /// A dictionary trained and judged better, for the store to adopt.
    trained: Mutex<Option<Vec<u8>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Samples, end to end, as zstd's trainer takes them.
#[derive(Default)]
struct Samples {
    data: Vec<u8>,
    sizes: Vec<usize>,
}

impl Dictionaries {
    /// The dictionaries of a store that trains new ones from what it
    /// compresses.
    pub fn training() -> Self {
        Self {
            training: Some(Training::default()),
            ..Self::default()
        }
    }

    /// The dictionaries of a store that keeps none: every frame compressed
    /// alone.
    pub fn none() -> &'static Arc<Self> {
        static NONE: std::sync::LazyLock<Arc<Dictionaries>> =
            std::sync::LazyLock::new(Arc::default);
        &NONE
    }

    /// Registers a stored dictionary (as read from its table when the store
    /// opens, in id order): frames naming it read, and the last one
    /// registered is what new frames use. A store that has one takes samples
    /// again only after [`RETRAIN_AFTER_BYTES`].
    pub fn load(&self, id: u32, bytes: Vec<u8>) -> Result<(), StoreError> {
        if dictionary_id(&bytes) != Some(id) {
            return Err(StoreError::Corrupt(format!(
                "compression dictionary {id}: not a zstd dictionary with its id"
            )));
        }
        self.adopt(id, bytes);
        if let Some(t) = &self.training {
            t.sample_from.store(RETRAIN_AFTER_BYTES, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Makes `bytes` (from [`take_trained`](Self::take_trained), or read by
    /// [`load`](Self::load)), stored under `id`, the dictionary of new
    /// frames. Only once it is stored: a frame naming a dictionary the
    /// database does not hold could not be read.
    pub fn adopt(&self, id: u32, bytes: Vec<u8>) {
        let dictionary = Dictionary::new(bytes);
        if let Ok(mut by_id) = self.by_id.write() {
            by_id.insert(id, Arc::clone(&dictionary));
        }
        if let Ok(mut current) = self.current.write() {
            *current = Some(dictionary);
        }
    }

    /// Registers a dictionary another server stored (read from its table
    /// when a frame named it): frames naming it read; new frames keep this
    /// store's current dictionary.
    pub fn register(&self, id: u32, bytes: Vec<u8>) -> Result<(), StoreError> {
        if dictionary_id(&bytes) != Some(id) {
            return Err(StoreError::Corrupt(format!(
                "compression dictionary {id}: not a zstd dictionary with its id"
            )));
        }
        if let Ok(mut by_id) = self.by_id.write() {
            by_id.entry(id).or_insert_with(|| Dictionary::new(bytes));
        }
        Ok(())
    }

    /// Whether frames naming dictionary `id` can be read.
    pub fn knows(&self, id: u32) -> bool {
        self.by_id.read().is_ok_and(|d| d.contains_key(&id))
    }

    /// A dictionary trained and judged better than the current one, for the
    /// store to write down and then [`adopt`](Self::adopt) (under its id).
    pub fn take_trained(&self) -> Option<Vec<u8>> {
        self.training.as_ref()?.trained.lock().ok()?.take()
    }

    /// `bytes`, a trained dictionary, naming itself `id` (the id zstd writes
    /// into every frame compressed with it).
    pub fn with_id(mut bytes: Vec<u8>, id: u32) -> Vec<u8> {
        // The header: magic number, then the id, little-endian.
        if let Some(field) = bytes.get_mut(4..8) {
            field.copy_from_slice(&id.to_le_bytes());
        }
        bytes
    }

    /// A context that compresses with the current dictionary (the calling
    /// thread's own, kept between calls); `None` if zstd could not allocate
    /// one.
    pub fn compressor(self: &Arc<Self>) -> Option<Compressor> {
        let dictionary = self.current.read().ok()?.clone();
        let serial = dictionary.as_ref().map_or(0, |d| d.serial);
        let pooled = CONTEXTS
            .with_borrow_mut(|c| c.take_if(|(s, _)| *s == serial))
            .map(|(_, zstd)| zstd);
        let zstd = match pooled {
            Some(zstd) => zstd,
            None => context(dictionary.as_ref().map(|d| &d.bytes[..]))?,
        };
        Some(Compressor {
            zstd: Some(zstd),
            serial,
            dictionaries: Arc::clone(self),
            scratch: Vec::new(),
        })
    }

    /// Waits for a training under way to end, if one is (tests: what it
    /// offers is then in [`take_trained`](Self::take_trained)); whether one
    /// was.
    pub fn finish_training(&self) -> bool {
        let thread = self
            .training
            .as_ref()
            .and_then(|t| t.thread.lock().ok()?.take());
        thread.map(|t| t.join()).is_some()
    }

    /// Counts a blob compressed, and keeps it as a sample while samples are
    /// taken; starts the training when there are enough.
    fn observe(self: &Arc<Self>, bytes: &[u8]) {
        let Some(t) = &self.training else { return };
        let len = bytes.len() as u64;
        let seen = t.compressed.fetch_add(len, Ordering::Relaxed) + len;
        if seen < t.sample_from.load(Ordering::Relaxed)
            || !t
                .blobs
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(SAMPLE_ONE_IN)
        {
            return;
        }
        let Ok(mut samples) = t.samples.lock() else {
            return;
        };
        // Checked again under the lock: another thread may have just taken
        // the samples to train.
        if seen < t.sample_from.load(Ordering::Relaxed) {
            return;
        }
        let sample = &bytes[..bytes.len().min(SAMPLE_MAX_BYTES)];
        samples.data.extend_from_slice(sample);
        samples.sizes.push(sample.len());
        if samples.data.len() < SAMPLE_BYTES {
            return;
        }
        t.sample_from.store(u64::MAX, Ordering::Relaxed);
        let samples = std::mem::take(&mut *samples);
        let this = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("zstd-train".to_owned())
            .spawn(move || this.train(&samples));
        match thread {
            Ok(thread) => {
                if let Ok(mut slot) = t.thread.lock() {
                    *slot = Some(thread);
                }
            }
            Err(e) => {
                tracing::warn!("no thread to train a compression dictionary: {e}");
                t.sample_from
                    .store(seen.saturating_add(RETRAIN_AFTER_BYTES), Ordering::Relaxed);
            }
        }
    }

    /// Trains a dictionary on most of `samples`, and offers it if it makes
    /// the rest at least a tenth smaller than the current dictionary does.
    fn train(&self, samples: &Samples) {
        let Some(t) = &self.training else { return };
        let (mut learn, mut judge) = (Samples::default(), Vec::new());
        let mut at = 0;
        for (i, &size) in samples.sizes.iter().enumerate() {
            let sample = &samples.data[at..at + size];
            at += size;
            if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 {
                judge.push(sample);
            } else {
                learn.data.extend_from_slice(sample);
                learn.sizes.push(size);
            }
        }
        match zstd::dict::from_continuous(&learn.data, &learn.sizes, DICTIONARY_BYTES) {
            Ok(candidate) => {
                let current = self.current.read().ok().and_then(|c| c.clone());
                let now = compressed_size(current.as_ref().map(|d| &d.bytes[..]), &judge);
                let then = compressed_size(Some(&candidate), &judge);
                if let (Some(now), Some(then)) = (now, then)
                    && (then as f64) <= now as f64 * BETTER_RATIO
                {
                    tracing::info!(
                        "a compression dictionary trained: held-out samples {now} -> {then} bytes"
                    );
                    if let Ok(mut trained) = t.trained.lock() {
                        *trained = Some(candidate);
                    }
                }
            }
            // Too few or too uniform samples: zstd says so, and we train
            // again later.
            Err(e) => tracing::debug!("no compression dictionary trained: {e}"),
        }
        let compressed = t.compressed.load(Ordering::Relaxed);
        t.sample_from.store(
            compressed.saturating_add(RETRAIN_AFTER_BYTES),
            Ordering::Relaxed,
        );
    }

    fn get(&self, id: u32) -> Result<Arc<Dictionary>, StoreError> {
        self.by_id
            .read()
            .ok()
            .and_then(|d| d.get(&id).cloned())
            .ok_or_else(|| {
                corrupt(format!(
                    "compressed with dictionary {id}, which is not stored"
                ))
            })
    }
}

/// Registers the dictionaries a store's `compression_dictionaries` table
/// holds, oldest first (the newest compresses new blobs). A damaged one is
/// skipped, not fatal: only the blobs compressed with it are unreadable,
/// each read says so, and `oi-sessions check` lists them.
pub fn load_dictionaries(
    tx: &mut dyn SqlTx,
    dictionaries: &Dictionaries,
) -> Result<(), StoreError> {
    let rows = tx.query(
        "SELECT id, dictionary FROM compression_dictionaries ORDER BY id",
        &[],
    )?;
    for r in rows {
        let loaded = r.int(0).and_then(|id| {
            let id = u32::try_from(id)
                .map_err(|_| StoreError::Corrupt(format!("compression dictionary id {id}")))?;
            dictionaries.load(id, r.blob(1)?.to_vec())
        });
        if let Err(e) = loaded {
            tracing::error!("{e}: what was compressed with it cannot be read");
        }
    }
    Ok(())
}

/// Stores a trained dictionary in `compression_dictionaries` under the next
/// id (a writer that is not alone locks the table first); returns the id
/// and the bytes naming it, for [`Dictionaries::adopt`] once committed.
pub fn store_dictionary(
    tx: &mut dyn SqlTx,
    trained: Vec<u8>,
) -> Result<(u32, Vec<u8>), StoreError> {
    let last = tx
        .query_opt("SELECT max(id) FROM compression_dictionaries", &[])?
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten();
    let id = match last {
        Some(last) => u32::try_from(last + 1)
            .map_err(|_| StoreError::Corrupt(format!("compression dictionary id {last}")))?,
        None => FIRST_DICTIONARY_ID,
    };
    let bytes = Dictionaries::with_id(trained, id);
    tx.execute(
        "INSERT INTO compression_dictionaries (id, dictionary, created_ns) VALUES ($1, $2, $3)",
        &[
            i64::from(id).into(),
            SqlValue::Blob(bytes.clone()),
            super::queries::now_ns().into(),
        ],
    )?;
    Ok((id, bytes))
}

/// What `oi-sessions check` finds of a store's dictionaries: the damaged
/// ones, and the blobs naming one the database does not hold.
pub struct DictionaryCheck {
    /// The stored dictionaries that carry their own id.
    stored: HashSet<u32>,
    /// What `check` reports, one line each.
    pub problems: Vec<String>,
    /// Of the table being read: its blobs naming a missing dictionary, and
    /// the first (row id, dictionary).
    missing: usize,
    first: Option<(i64, u32)>,
}

impl DictionaryCheck {
    /// Reads the stored dictionaries; one problem a damaged one.
    pub fn read(tx: &mut dyn SqlTx) -> Result<Self, StoreError> {
        let mut check = Self {
            stored: HashSet::new(),
            problems: Vec::new(),
            missing: 0,
            first: None,
        };
        for r in tx.query("SELECT id, dictionary FROM compression_dictionaries", &[])? {
            let id = r.int(0)?;
            match (u32::try_from(id), r.blob(1)) {
                (Ok(id), Ok(bytes)) if dictionary_id(bytes) == Some(id) => {
                    check.stored.insert(id);
                }
                _ => check
                    .problems
                    .push(format!("compression dictionary {id} is damaged")),
            }
        }
        Ok(check)
    }

    /// Looks at a blob of the table being read, by its row id and zstd
    /// frame (its header is enough).
    pub fn see(&mut self, row: i64, frame: &[u8]) {
        if let Some(id) = dictionary_of(frame)
            && !self.stored.contains(&id)
        {
            self.missing += 1;
            self.first.get_or_insert((row, id));
        }
    }

    /// Ends the table [`see`](Self::see) looked at: one problem if any of
    /// its blobs names a dictionary the database does not hold.
    pub fn end_table(&mut self, table: &str) {
        if let Some((row, id)) = self.first.take() {
            self.problems.push(format!(
                "{} {table} compressed with a dictionary the database does not hold \
                 (first: row {row}, dictionary {id})",
                self.missing
            ));
        }
        self.missing = 0;
    }
}

/// A compression context at [`ZSTD_LEVEL`], with `dictionary` loaded; `None`
/// if zstd could not allocate it.
fn context(dictionary: Option<&[u8]>) -> Option<zstd::bulk::Compressor<'static>> {
    match dictionary {
        Some(d) => zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, d).ok(),
        None => zstd::bulk::Compressor::new(ZSTD_LEVEL).ok(),
    }
}

/// What `samples` take compressed, each alone, with `dictionary`.
fn compressed_size(dictionary: Option<&[u8]>, samples: &[&[u8]]) -> Option<usize> {
    let mut zstd = context(dictionary)?;
    let mut out = Vec::new();
    let mut total = 0;
    for sample in samples {
        out.resize(zstd::zstd_safe::compress_bound(sample.len()), 0);
        total += zstd.compress_to_buffer(sample, &mut out[..]).ok()?;
    }
    Some(total)
}

thread_local! {
    // The calling thread's compression context, with the dictionary it has
    // loaded (by serial; 0 for none): loading one takes longer than
    // compressing a small request.
    static CONTEXTS: RefCell<Option<(u64, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    // Decompression contexts, a few dictionaries' (most recent first).
    static DECOMPRESSORS: RefCell<Vec<(u64, zstd::bulk::Decompressor<'static>)>> =
        const { RefCell::new(Vec::new()) };
}

/// Decompression contexts a thread keeps.
const DECOMPRESSORS_KEPT: usize = 4;

/// A zstd context with the store's current dictionary, reused for every blob
/// of a write (zstd sizes its tables to the input and does not clear them
/// between inputs, which deflate does, 128 kB each time). Given back to the
/// thread when dropped.
pub struct Compressor {
    zstd: Option<zstd::bulk::Compressor<'static>>,
    serial: u64,
    dictionaries: Arc<Dictionaries>,
    /// Where a frame is compressed before it is copied out.
    scratch: Vec<u8>,
}

impl Compressor {
    /// Whether frames from it name a dictionary.
    pub fn has_dictionary(&self) -> bool {
        self.serial != 0
    }

    /// Counts `bytes` as compressed, and samples them for the next
    /// dictionary, without compressing them (a blob stored raw, too small to
    /// compress alone, is still what a dictionary is trained for).
    pub fn sample(&self, bytes: &[u8]) {
        self.dictionaries.observe(bytes);
    }

    /// `bytes` as a zstd frame (with its content size, and its dictionary's
    /// id) after `prefix`; `None` if zstd fails.
    pub fn compress(&mut self, bytes: &[u8], prefix: &[u8]) -> Option<Vec<u8>> {
        self.dictionaries.observe(bytes);
        let zstd = self.zstd.as_mut()?;
        // Compressed into the room zstd may need (its bound), kept between
        // calls, then copied out at its size: a fresh buffer of the bound
        // each time was zeroed whole, and kept a third more than it held.
        let bound = zstd::zstd_safe::compress_bound(bytes.len());
        if self.scratch.len() < bound {
            self.scratch.resize(bound, 0);
        }
        let n = zstd
            .compress_to_buffer(bytes, &mut self.scratch[..bound])
            .ok()?;
        let mut out = Vec::with_capacity(prefix.len() + n);
        out.extend_from_slice(prefix);
        out.extend_from_slice(&self.scratch[..n]);
        Some(out)
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        if let Some(zstd) = self.zstd.take() {
            // A thread being torn down has no slot left: the context is freed.
            let _ = CONTEXTS.try_with(|c| *c.borrow_mut() = Some((self.serial, zstd)));
        }
    }
}

/// A span body's JSON as stored: a zstd frame, or raw deflate (how bodies
/// were stored before zstd, which reads back too) when there is no zstd
/// context (it could not be allocated) or zstd fails.
pub fn compress_body(compressor: Option<&mut Compressor>, json: &[u8]) -> Vec<u8> {
    if let Some(frame) = compressor.and_then(|c| c.compress(json, &[])) {
        return frame;
    }
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(json.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    // Writing to memory cannot fail.
    let _ = std::io::Write::write_all(&mut e, json);
    e.finish().unwrap_or_default()
}

/// `bytes` as a zstd frame that stores them as they are (one raw block),
/// which any zstd decoder reads: for blobs too small for compression to pay
/// for its tables (`None` past [`RAW_FRAME_MAX_BYTES`]).
pub fn raw_frame(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() > RAW_FRAME_MAX_BYTES {
        return None;
    }
    let mut frame = Vec::with_capacity(bytes.len() + 10);
    frame.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
    // The frame header: one segment (no window size), its content size in
    // one byte below 256, else in two (less 256), no checksum, no dictionary.
    match u8::try_from(bytes.len()) {
        Ok(size) => frame.extend_from_slice(&[0b0010_0000, size]),
        Err(_) => {
            let size = u16::try_from(bytes.len() - 256).ok()?;
            frame.push(0b0110_0000);
            frame.extend_from_slice(&size.to_le_bytes());
        }
    }
    // The block header: the last block, raw, its size (21 bits).
    let header = (u32::try_from(bytes.len()).ok()? << 3) | 1;
    frame.extend_from_slice(&header.to_le_bytes()[..3]);
    frame.extend_from_slice(bytes);
    Some(frame)
}

/// The most a [`raw_frame`] holds: within what a two-byte content size says
/// and a single block may hold.
pub const RAW_FRAME_MAX_BYTES: usize = 65_535;

/// The JSON of a stored span body ([`compress_body`]): a zstd frame, told
/// apart by its magic number, or raw deflate.
pub fn decompress_body(blob: &[u8], dictionaries: &Dictionaries) -> Result<Vec<u8>, StoreError> {
    let mut json = Vec::new();
    if is_zstd_frame(blob) {
        decompress_frame(blob, &mut json, BODY_MAX_BYTES, dictionaries)?;
    } else {
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(blob), &mut json)
            .map_err(|e| StoreError::Corrupt(format!("span body: {e}")))?;
    }
    Ok(json)
}

/// The id a zstd dictionary gives itself (`None`: not a zstd dictionary).
pub fn dictionary_id(dictionary: &[u8]) -> Option<u32> {
    zstd::zstd_safe::get_dict_id_from_dict(dictionary).map(u32::from)
}

/// The dictionary a zstd frame names, if it names one (a deflated body, or
/// a frame compressed alone, names none).
pub fn dictionary_of(frame: &[u8]) -> Option<u32> {
    if !is_zstd_frame(frame) {
        return None;
    }
    zstd::zstd_safe::get_dict_id_from_frame(frame).map(u32::from)
}

/// Whether a blob is a bare zstd frame (its magic number: a raw deflate
/// stream never starts so).
fn is_zstd_frame(blob: &[u8]) -> bool {
    blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Appends what a zstd frame holds to `out`, refusing a frame that says it
/// holds more than `max` bytes, with the dictionary the frame names.
pub fn decompress_frame(
    frame: &[u8],
    out: &mut Vec<u8>,
    max: usize,
    dictionaries: &Dictionaries,
) -> Result<(), StoreError> {
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => usize::try_from(size).map_err(corrupt)?,
        _ => return Err(corrupt("a compressed blob without its size")),
    };
    if size > max {
        return Err(corrupt(format!("a compressed blob of {size} bytes")));
    }
    let dictionary = match zstd::zstd_safe::get_dict_id_from_frame(frame) {
        Some(id) => Some(dictionaries.get(id.into())?),
        None => None,
    };
    let serial = dictionary.as_ref().map_or(0, |d| d.serial);
    let start = out.len();
    out.resize(start + size, 0);
    let written = DECOMPRESSORS.with_borrow_mut(|kept| {
        let at = match kept.iter().position(|(s, _)| *s == serial) {
            Some(at) => at,
            None => {
                let d = match &dictionary {
                    Some(d) => zstd::bulk::Decompressor::with_dictionary(&d.bytes),
                    None => zstd::bulk::Decompressor::new(),
                };
                kept.truncate(DECOMPRESSORS_KEPT - 1);
                kept.push((serial, d.map_err(corrupt)?));
                kept.len() - 1
            }
        };
        // Most recent first: the context least used lately goes first.
        kept[..=at].rotate_right(1);
        kept[0]
            .1
            .decompress_to_buffer(frame, &mut out[start..])
            .map_err(corrupt)
    })?;
    if written != size {
        return Err(corrupt("a compressed blob shorter than its size"));
    }
    Ok(())
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("stored blob: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blobs shaped like span bodies: the same names, different values.
    fn bodies(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"a":{{"llm.model_name":"model-{}","llm.token_count.prompt":{},"session.id":"s-{}","metadata":"{{\"tier\":\"t{}\"}}"}},"k":["input.value","output.value"],"e":[]}}"#,
                    i % 7,
                    i * 13 % 997,
                    i,
                    i % 3
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn raw_frames_read_back_as_any_zstd_frame() {
        for size in [0, 1, 255, 256, 300, 4_000, RAW_FRAME_MAX_BYTES] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let frame = raw_frame(&bytes).unwrap();
            assert!(frame.len() <= size + 10, "{size}: {} bytes", frame.len());
            let body = decompress_body(&frame, Dictionaries::none()).unwrap();
            assert_eq!(body, bytes, "{size}: through the store");
            let zstd = zstd::bulk::decompress(&frame, size).unwrap();
            assert_eq!(zstd, bytes, "{size}: through zstd alone");
        }
        assert!(raw_frame(&vec![0; RAW_FRAME_MAX_BYTES + 1]).is_none());
    }

    fn round_trip(dictionaries: &Arc<Dictionaries>, blob: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let frame = dictionaries
            .compressor()
            .and_then(|mut c| c.compress(blob, &[]))
            .unwrap();
        let mut back = Vec::new();
        decompress_frame(&frame, &mut back, 1 << 20, dictionaries).unwrap();
        (frame, back)
    }

    #[test]
    fn a_store_trains_a_dictionary_that_makes_small_blobs_smaller_and_reads_them_back() {
        let dictionaries = Arc::new(Dictionaries::training());
        let blobs = bodies(40_000);
        let mut plain = Vec::new();
        for blob in &blobs {
            let (frame, back) = round_trip(&dictionaries, blob);
            assert_eq!(&back, blob);
            plain.push(frame);
            if dictionaries
                .training
                .as_ref()
                .unwrap()
                .thread
                .lock()
                .unwrap()
                .is_some()
            {
                break;
            }
        }
        dictionaries.finish_training();
        let trained = dictionaries.take_trained().expect("a dictionary offered");
        assert!(dictionaries.take_trained().is_none(), "offered once");
        let trained = Dictionaries::with_id(trained, FIRST_DICTIONARY_ID);
        dictionaries.adopt(FIRST_DICTIONARY_ID, trained.clone());

        let (frame, back) = round_trip(&dictionaries, &blobs[0]);
        assert_eq!(back, blobs[0]);
        assert_eq!(
            zstd::zstd_safe::get_dict_id_from_frame(&frame).map(u32::from),
            Some(FIRST_DICTIONARY_ID)
        );
        assert!(
            frame.len() * 2 < plain[0].len(),
            "{} bytes with the dictionary, {} without",
            frame.len(),
            plain[0].len()
        );
        // Frames from before the dictionary still read.
        let mut back = Vec::new();
        decompress_frame(&plain[1], &mut back, 1 << 20, &dictionaries).unwrap();
        assert_eq!(back, blobs[1]);

        // Another store with the dictionary loaded reads the frame; one
        // without it says which dictionary is missing.
        let reopened = Dictionaries::training();
        reopened.load(FIRST_DICTIONARY_ID, trained).unwrap();
        let mut back = Vec::new();
        decompress_frame(&frame, &mut back, 1 << 20, &reopened).unwrap();
        assert_eq!(back, blobs[0]);
        let err = decompress_frame(&frame, &mut Vec::new(), 1 << 20, &Dictionaries::default())
            .unwrap_err();
        assert!(err.to_string().contains("32768"), "{err}");
    }

    #[test]
    fn a_dictionary_no_better_than_the_current_one_is_not_offered() {
        let dictionaries = Arc::new(Dictionaries::training());
        let blobs = bodies(40_000);
        let mut rounds = 0;
        for blob in blobs.iter().cycle() {
            round_trip(&dictionaries, blob);
            let t = dictionaries.training.as_ref().unwrap();
            if t.thread.lock().unwrap().is_some() {
                dictionaries.finish_training();
                rounds += 1;
                match dictionaries.take_trained() {
                    Some(trained) => {
                        assert_eq!(rounds, 1, "only the first training is offered");
                        let id = FIRST_DICTIONARY_ID;
                        dictionaries.adopt(id, Dictionaries::with_id(trained, id));
                        // Sample again at once rather than after 256 MiB.
                        t.sample_from.store(0, Ordering::Relaxed);
                    }
                    None => break,
                }
            }
        }
        assert_eq!(rounds, 2);
    }

    #[test]
    fn a_stored_dictionary_must_carry_its_id() {
        let d = Dictionaries::default();
        assert!(
            d.load(FIRST_DICTIONARY_ID, b"not a dictionary".to_vec())
                .is_err()
        );
    }

    #[test]
    fn a_frame_says_how_large_it_is_before_anything_is_allocated() {
        let dictionaries = Arc::new(Dictionaries::default());
        let (frame, _) = round_trip(&dictionaries, &[7; 4096]);
        let err = decompress_frame(&frame, &mut Vec::new(), 100, &dictionaries).unwrap_err();
        assert!(err.to_string().contains("4096"), "{err}");
    }
}
