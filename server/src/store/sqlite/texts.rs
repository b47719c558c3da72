//! How SQLite stores long span texts: each distinct text once, and a long one
//! as content-defined chunks, each distinct chunk once, compressed
//! (zstd).
//!
//! A chat's LLM spans repeat the conversation so far. The messages themselves
//! arrive as separate attributes, equal turn after turn, and are stored once
//! by their digest. What is new in every turn only because it embeds the
//! earlier turns (the request JSON in `input.value`, a system message with
//! that turn's documents) is cut where the content says (a rolling hash over
//! the last 64 bytes), so that the same content is cut at the same places
//! whatever precedes it: turn 10's request shares every chunk of turn 9's but
//! the last, and stores only what is new.
//!
//! Texts and chunks are addressed by BLAKE3 (truncated to 128 bits; SHA-256
//! until migration 24): a client cannot make its text collide with
//! another's, so a digest found is the text, without reading it back. Both
//! are reference-counted: a span counts one reference to each text it uses, a text one to each chunk it
//! lists; deleting spans releases them ([`release`]). The counts live in
//! narrow tables of their own (`text_uses`, `chunk_uses`): a text every
//! conversation uses (a system prompt, a popular document) has its count
//! raised by every write, and a count beside the text's body would rewrite a
//! page of bodies each time, a page of counts holds hundreds.
//!
//! SQL reads a text with the function `oi_text(texts.body)`, registered on
//! every connection ([`register`]).
//!
//! The single writer only looks digests up and inserts rows. Cutting a new
//! text into chunks, hashing the chunks and compressing them happen before
//! the writer lock, on the request's own thread ([`new_texts`]), for the
//! texts and chunks that [`Known`] (the digests recently stored) does not
//! list. That list is a hint, never trusted: the writer still looks every
//! digest up, and works out itself a text the hint wrongly said was stored.
//! Where it looks first is [`StoredIds`], the row ids of the texts it used
//! lately, which is exact: it keeps it only across its own span writes that
//! delete nothing.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

use super::digest_filter::DigestFilter;
use super::rows::{RowBatch, row_statements};
use crate::store::compression::{Compressor, Dictionaries, DictionaryCheck, decompress_frame};
use crate::store::sql::{SqlTx, SqlValue};
use crate::store::{StoreError, compression};

/// Attribute strings at least this long are stored once in `texts` and
/// referenced.
pub(super) const INTERN_MIN_BYTES: usize = 48;

/// Texts at least this long are stored as chunks: about two chunks.
const CHUNKED_MIN_BYTES: usize = 1536;
/// No chunk is shorter (but a text's last)…
const CHUNK_MIN_BYTES: usize = 256;
/// …or longer.
const CHUNK_MAX_BYTES: usize = 8192;
/// A cut where the rolling hash's top 9 bits are zero: one position in 512,
/// so chunks average about `CHUNK_MIN_BYTES + 512` bytes.
const CUT_MASK: u64 = 0x1ff << 55;
/// Bytes the rolling hash depends on: a 64-bit gear hash shifts one bit a
/// byte.
const WINDOW_BYTES: usize = 64;

/// Most rows whose references [`Texts::flush`] writes in one statement (a
/// power of two).
const REFS_A_STATEMENT: usize = 64;

/// Stored blobs smaller than this are not worth compressing.
const COMPRESS_MIN_BYTES: usize = 96;

/// How a stored blob (a text's `body`, a chunk's `data`) is encoded: its first
/// byte.
const RAW: u8 = 0;
/// A zstd frame (with its content size).
const ZSTD: u8 = 1;
/// A text's chunk ids as LEB128 varints, in order.
const CHUNKED: u8 = 2;

/// The address of a text or a chunk: BLAKE3, first 128 bits.
pub type Digest = [u8; 16];

/// Hashes a [`Digest`] by its first eight bytes: they are already uniformly
/// random (BLAKE3), so hashing them again (SipHash) is wasted work.
#[derive(Default)]
pub(super) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(word);
    }

    fn write_usize(&mut self, _length: usize) {
        // A digest's length prefix: always 16, nothing to mix in.
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by [`Digest`].
pub(super) type DigestMap<V> = HashMap<Digest, V, BuildHasherDefault<DigestHasher>>;

/// The digest a text is stored under.
pub fn digest(bytes: &[u8]) -> Digest {
    let full = blake3::hash(bytes);
    let mut d = [0; 16];
    d.copy_from_slice(&full.as_bytes()[..16]);
    d
}

/// The digests of the texts of one request's spans, each distinct text hashed
/// once: an LLM span repeats the conversation so far, and a request often
/// holds several turns of a session (an exporter batches what ended
/// together), so most of its texts arrive several times.
///
/// A text is looked up by its length and its first and last 16 bytes, and
/// taken as the one remembered under that shape only if all its bytes are
/// equal (comparing is several times cheaper than hashing). One text is
/// remembered per shape: texts made to share a shape cost a comparison each
/// and their own hash, never a search through many.
#[derive(Default)]
pub(super) struct RequestDigests<'a> {
    by_shape: HashMap<TextShape, (&'a str, Digest)>,
}

/// A text's length, first 16 bytes and last 16 bytes.
type TextShape = (usize, [u8; 16], [u8; 16]);

impl<'a> RequestDigests<'a> {
    /// Texts shorter than this are hashed again rather than looked up.
    const MIN_BYTES: usize = 32;

    /// The digest of `text` ([`digest`]).
    pub(super) fn of(&mut self, text: &'a str) -> Digest {
        let bytes = text.as_bytes();
        let Some(shape) = Self::shape(bytes) else {
            return digest(bytes);
        };
        match self.by_shape.entry(shape) {
            std::collections::hash_map::Entry::Occupied(seen) => {
                let (seen_text, d) = *seen.get();
                if seen_text == text { d } else { digest(bytes) }
            }
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert((text, digest(bytes))).1,
        }
    }

    fn shape(bytes: &[u8]) -> Option<TextShape> {
        if bytes.len() < Self::MIN_BYTES {
            return None;
        }
        let first = bytes[..16].try_into().ok()?;
        let last = bytes[bytes.len() - 16..].try_into().ok()?;
        Some((bytes.len(), first, last))
    }
}

/// The gear table: one pseudo-random word per byte value (splitmix64), fixed
/// forever: stored chunks were cut with it (another table would only stop new
/// texts sharing chunks with old ones).
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut state: u64 = 0x6f69_2d73_6573_7369; // "oi-sessi"
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// Where the next chunk of `bytes` ends: a cut depends only on the
/// [`WINDOW_BYTES`] before it, so equal content is cut alike wherever it
/// starts.
fn next_cut(bytes: &[u8]) -> usize {
    if bytes.len() <= CHUNK_MIN_BYTES {
        return bytes.len();
    }
    let end = bytes.len().min(CHUNK_MAX_BYTES);
    // Bytes before the minimum cannot end a chunk; the hash only needs the
    // window before the first place that can.
    let mut h: u64 = 0;
    for &b in &bytes[CHUNK_MIN_BYTES - WINDOW_BYTES..CHUNK_MIN_BYTES] {
        h = (h << 1).wrapping_add(GEAR[usize::from(b)]);
    }
    for (i, &b) in bytes.iter().enumerate().take(end).skip(CHUNK_MIN_BYTES) {
        h = (h << 1).wrapping_add(GEAR[usize::from(b)]);
        if h & CUT_MASK == 0 {
            return i + 1;
        }
    }
    end
}

/// The chunks of a text, in order.
fn chunks(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let (chunk, rest) = bytes.split_at(next_cut(bytes));
        bytes = rest;
        Some(chunk)
    })
}

/// `bytes` tagged [`RAW`], or [`ZSTD`] when that is smaller.
fn encode(compressor: &mut Compressor, bytes: &[u8]) -> Vec<u8> {
    if bytes.len() >= COMPRESS_MIN_BYTES
        && let Some(frame) = compressor.compress(bytes, &[ZSTD])
        && frame.len() < bytes.len() + 1
    {
        return frame;
    }
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(RAW);
    out.extend_from_slice(bytes);
    out
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("stored text: {what}"))
}

/// Appends the bytes of a [`RAW`] or [`ZSTD`] blob to `out`.
fn decode_into(
    blob: &[u8],
    out: &mut Vec<u8>,
    dictionaries: &Dictionaries,
) -> Result<(), StoreError> {
    match blob.split_first() {
        Some((&RAW, bytes)) => out.extend_from_slice(bytes),
        Some((&ZSTD, frame)) => {
            decompress_frame(
                frame,
                out,
                CHUNK_MAX_BYTES.max(CHUNKED_MIN_BYTES),
                dictionaries,
            )?;
        }
        _ => return Err(corrupt("unknown encoding")),
    }
    Ok(())
}

/// Ids as LEB128 varints.
pub(super) fn pack_ids(ids: &[i64], out: &mut Vec<u8>) {
    for &id in ids {
        let mut v = id as u64;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
}

pub(super) fn unpack_ids(bytes: &[u8]) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::new();
    let (mut v, mut shift) = (0u64, 0u32);
    for &b in bytes {
        if shift > 63 {
            return Err(StoreError::Corrupt("text refs".to_owned()));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            ids.push(v as i64);
            (v, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    if shift != 0 {
        return Err(StoreError::Corrupt("text refs".to_owned()));
    }
    Ok(ids)
}

/// The text a `texts.body` holds, its chunks read through `conn`.
fn assemble(
    conn: &Connection,
    body: &[u8],
    dictionaries: &Dictionaries,
) -> Result<String, StoreError> {
    let mut bytes = Vec::new();
    match body.split_first() {
        Some((&CHUNKED, ids)) => {
            // Not `prepare_cached`: a function's connection handle starts with
            // an empty cache every call.
            let mut stmt = conn.prepare("SELECT data FROM chunks WHERE id = ?1")?;
            for id in unpack_ids(ids)? {
                let mut rows = stmt.query([id])?;
                let row = rows
                    .next()?
                    .ok_or_else(|| corrupt(format!("chunk {id} missing")))?;
                match row.get_ref(0)? {
                    ValueRef::Blob(data) => decode_into(data, &mut bytes, dictionaries)?,
                    _ => return Err(corrupt(format!("chunk {id} is not a blob"))),
                }
            }
        }
        _ => decode_into(body, &mut bytes, dictionaries)?,
    }
    String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))
}

/// Registers `oi_text(body)` on a connection: the text a `texts.body` holds
/// (NULL for NULL); and `oi_body(body)`, the JSON a `spans.body` holds.
pub(super) fn register(
    conn: &Connection,
    dictionaries: &Arc<Dictionaries>,
) -> rusqlite::Result<()> {
    let of_bodies = Arc::clone(dictionaries);
    conn.create_scalar_function(
        "oi_body",
        1,
        FunctionFlags::SQLITE_UTF8,
        move |ctx| match ctx.get_raw(0) {
            ValueRef::Blob(b) => compression::decompress_body(b, &of_bodies)
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e))),
            _ => Err(rusqlite::Error::UserFunctionError(
                "oi_body takes a spans.body".into(),
            )),
        },
    )?;
    let dictionaries = Arc::clone(dictionaries);
    conn.create_scalar_function("oi_text", 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let body = match ctx.get_raw(0) {
            ValueRef::Null => return Ok(None),
            ValueRef::Blob(b) => b,
            _ => {
                return Err(rusqlite::Error::UserFunctionError(
                    "oi_text takes a texts.body".into(),
                ));
            }
        };
        // Inline texts need no queries; chunked ones read `chunks` on the
        // connection running this statement (same transaction, same thread).
        let text = if body.first() == Some(&CHUNKED) {
            // SAFETY: the handle is used only within this call, on the
            // thread SQLite called us on, and never closed.
            #[allow(unsafe_code)]
            let conn = unsafe { ctx.get_connection()? };
            assemble(&conn, body, &dictionaries)
        } else {
            let mut bytes = Vec::new();
            decode_into(body, &mut bytes, &dictionaries)
                .and_then(|()| String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8")))
        };
        text.map(Some)
            .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
    })
}

/// The two content-addressed tables.
#[derive(Clone, Copy)]
pub(super) enum Table {
    Texts,
    Chunks,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Texts => "texts",
            Table::Chunks => "chunks",
        }
    }

    /// Its column holding a row's stored blob.
    fn blob_column(self) -> &'static str {
        match self {
            Table::Texts => "body",
            Table::Chunks => "data",
        }
    }

    /// The table of its rows' reference counts.
    fn uses(self) -> &'static str {
        match self {
            Table::Texts => "text_uses",
            Table::Chunks => "chunk_uses",
        }
    }

    /// The table of the digests of its rows up to its watermark.
    fn digests(self) -> &'static str {
        match self {
            Table::Texts => "text_digests",
            Table::Chunks => "chunk_digests",
        }
    }

    fn lookup(self) -> &'static str {
        match self {
            Table::Texts => "SELECT id FROM text_digests WHERE digest = ?1",
            Table::Chunks => "SELECT id FROM chunk_digests WHERE digest = ?1",
        }
    }

    fn index_digest(self) -> &'static str {
        match self {
            Table::Texts => "INSERT INTO text_digests (digest, id) VALUES (?1, ?2)",
            Table::Chunks => "INSERT INTO chunk_digests (digest, id) VALUES (?1, ?2)",
        }
    }

    fn merge_digest(self) -> &'static str {
        match self {
            Table::Texts => {
                "INSERT INTO text_digests (digest, id) VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING"
            }
            Table::Chunks => {
                "INSERT INTO chunk_digests (digest, id) VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING"
            }
        }
    }

    fn row_digest(self) -> &'static str {
        match self {
            Table::Texts => "SELECT digest FROM texts WHERE id = ?1",
            Table::Chunks => "SELECT digest FROM chunks WHERE id = ?1",
        }
    }

    /// The inserts of one to eight rows, (id, digest, body) each.
    fn inserts(self) -> &'static [String] {
        static TEXTS: LazyLock<Vec<String>> = LazyLock::new(|| {
            row_statements("INSERT OR ROLLBACK INTO texts (id, digest, body)", "")
        });
        static CHUNKS: LazyLock<Vec<String>> = LazyLock::new(|| {
            row_statements("INSERT OR ROLLBACK INTO chunks (id, digest, data)", "")
        });
        match self {
            Table::Texts => &TEXTS,
            Table::Chunks => &CHUNKS,
        }
    }

    fn last_id(self) -> &'static str {
        match self {
            Table::Texts => "SELECT max(id) FROM texts",
            Table::Chunks => "SELECT max(id) FROM chunks",
        }
    }

    /// References added to `rows` rows, (id, count) each, in one statement:
    /// a row stored by this transaction gets its count, one stored before
    /// has it raised. `OR ROLLBACK`: see [`super::rows`].
    fn add_refs(self, rows: usize) -> String {
        format!(
            "INSERT OR ROLLBACK INTO {} (id, refs) VALUES {}
             ON CONFLICT (id) DO UPDATE SET refs = refs + excluded.refs",
            self.uses(),
            vec!["(?, ?)"; rows].join(", ")
        )
    }
}

/// A text or chunk a write transaction uses: its row id and the references
/// it added and has not written yet ([`Texts::flush`]).
#[derive(Clone, Copy)]
struct Held {
    id: i64,
    added: i64,
}

impl Held {
    fn new(id: i64) -> Self {
        Self { id, added: 1 }
    }
}

/// The rows of one table a transaction stored and has not written yet
/// ([`Texts::write_rows`]): written eight a statement, not one.
#[derive(Default)]
struct Unwritten {
    /// The id the next row takes, once the table's last was read: what
    /// SQLite would give it (the largest id plus one), given here so that
    /// the rows can wait while the spans referring to them are written.
    next_id: Option<i64>,
    rows: Vec<(i64, Digest, Vec<u8>)>,
}

/// Texts and chunks a write transaction stored or referenced: their ids and
/// the references it added and has not written yet ([`Texts::flush`]).
#[derive(Default)]
pub(super) struct Texts {
    texts: DigestMap<Held>,
    chunks: DigestMap<Held>,
    /// Rows stored and not written yet, by [`Table`].
    unwritten: [Unwritten; 2],
    /// How to store the texts not known before the writer lock.
    fresh: DigestMap<NewText>,
    /// What compresses the texts worked out here (the store's dictionaries;
    /// none for the writes that store no new text).
    dictionaries: Option<Arc<Dictionaries>>,
    compressor: Option<Compressor>,
    /// What earlier transactions found or stored, lent by the store.
    committed: StoredIds,
    /// The digests stored after the digest tables' watermarks, lent by the
    /// store (every write that stores texts needs them).
    unindexed: Option<Unindexed>,
}

impl Texts {
    /// A transaction's texts, with what was worked out before the writer
    /// lock for the new ones.
    pub(super) fn with_new(fresh: DigestMap<NewText>, dictionaries: &Arc<Dictionaries>) -> Self {
        Self {
            fresh,
            dictionaries: Some(Arc::clone(dictionaries)),
            ..Self::default()
        }
    }

    /// The row id of `text` (whose digest is `d`), stored if new; counts one
    /// reference.
    pub(super) fn intern(
        &mut self,
        conn: &Connection,
        text: &str,
        d: &Digest,
    ) -> rusqlite::Result<i64> {
        debug_assert_eq!(*d, digest(text.as_bytes()));
        if let Some(held) = self.texts.get_mut(d) {
            held.added += 1;
            return Ok(held.id);
        }
        let entry = match self.fresh.remove(d) {
            _ if let Some(id) = self.committed.texts.get(d) => Held::new(id),
            Some(NewText::Whole(body)) => self.insert_or_find(conn, Table::Texts, d, body)?,
            // A chunked text is looked up first: storing it counts its chunks.
            fresh => match self.stored(conn, Table::Texts, d)? {
                Some(id) => Held::new(id),
                None => {
                    let body = match fresh {
                        Some(NewText::Chunked(chunks)) => {
                            self.chunked(conn, text.as_bytes(), chunks)?
                        }
                        _ => self.body(conn, text.as_bytes())?,
                    };
                    Held::new(self.insert(conn, Table::Texts, d, body)?)
                }
            },
        };
        self.texts.insert(*d, entry);
        Ok(entry.id)
    }

    /// What `texts.body` holds for a new text: the text itself (compressed if
    /// that is smaller), or the ids of its chunks, each stored if new.
    fn body(&mut self, conn: &Connection, bytes: &[u8]) -> rusqlite::Result<Vec<u8>> {
        // Every chunk taken as known: `chunked` encodes only those it does
        // not find.
        match NewText::of(bytes, &mut |_| true, self.compressor()?) {
            NewText::Whole(body) => Ok(body),
            NewText::Chunked(chunks) => self.chunked(conn, bytes, chunks),
        }
    }

    /// A chunked text's body: its chunks' ids, each chunk stored if new.
    fn chunked(
        &mut self,
        conn: &Connection,
        bytes: &[u8],
        chunks: Vec<NewChunk>,
    ) -> rusqlite::Result<Vec<u8>> {
        let mut ids = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            if let Some(held) = self.chunks.get_mut(&chunk.digest) {
                held.added += 1;
                ids.push(held.id);
                continue;
            }
            let entry = match chunk.data {
                _ if let Some(id) = self.committed.chunks.get(&chunk.digest) => Held::new(id),
                Some(data) => self.insert_or_find(conn, Table::Chunks, &chunk.digest, data)?,
                None => match self.stored(conn, Table::Chunks, &chunk.digest)? {
                    Some(id) => Held::new(id),
                    // Known before the lock, gone since: encoded here.
                    None => {
                        let data = encode(self.compressor()?, &bytes[chunk.bytes]);
                        Held::new(self.insert(conn, Table::Chunks, &chunk.digest, data)?)
                    }
                },
            };
            self.chunks.insert(chunk.digest, entry);
            ids.push(entry.id);
        }
        let mut body = Vec::with_capacity(1 + ids.len() * 3);
        body.push(CHUNKED);
        pack_ids(&ids, &mut body);
        Ok(body)
    }

    /// Lends this transaction the row ids earlier ones found or stored, and
    /// the digests after the digest tables' watermarks.
    pub(super) fn lend(&mut self, committed: StoredIds, unindexed: Unindexed) {
        self.committed = committed;
        self.unindexed = Some(unindexed);
    }

    /// What to lend the next transaction. The row ids: with this one's if
    /// it committed, none if it `deleted` texts ([`deletions`] moved), as
    /// lent if it rolled back (the tables are as they were then). The
    /// digests after the watermarks: with this one's, checked against their
    /// rows from now on if it rolled back or deleted texts.
    pub(super) fn give_back(&mut self, committed: bool, deleted: bool) -> (StoredIds, Unindexed) {
        let mut unindexed = self.unindexed.take().unwrap_or_default();
        if !committed || deleted {
            unindexed.check_rows();
        }
        let mut ids = std::mem::take(&mut self.committed);
        match (committed, deleted) {
            (false, _) => {}
            (true, true) => ids = StoredIds::default(),
            (true, false) => {
                for (d, held) in &self.texts {
                    ids.texts.insert(*d, held.id);
                }
                for (d, held) in &self.chunks {
                    ids.chunks.insert(*d, held.id);
                }
            }
        }
        (ids, unindexed)
    }

    /// Forgets what a transaction rolled back held, for the same write to run
    /// again (a new text not worked out any more is encoded by the writer).
    pub(super) fn restart(&mut self) {
        self.texts.clear();
        self.chunks.clear();
        self.unwritten = Default::default();
    }

    /// Every digest this transaction found or stored (all of them stored
    /// once it commits).
    pub(super) fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.texts.keys().chain(self.chunks.keys())
    }

    /// The row id of a stored text, if any.
    pub(super) fn find(&mut self, conn: &Connection, text: &str) -> rusqlite::Result<Option<i64>> {
        self.stored(conn, Table::Texts, &digest(text.as_bytes()))
    }

    fn unindexed(&mut self) -> rusqlite::Result<&mut Unindexed> {
        // Every writer path lends them; one that did not would store
        // digests twice.
        self.unindexed.as_mut().ok_or_else(|| {
            rusqlite::Error::ToSqlConversionFailure("texts written without their digests".into())
        })
    }

    /// The row id of what `table` stores under digest `d`, if any: among the
    /// digests after the watermark, else in the digest table.
    fn stored(
        &mut self,
        conn: &Connection,
        table: Table,
        d: &Digest,
    ) -> rusqlite::Result<Option<i64>> {
        let (check_rows, found) = {
            let unindexed = self.unindexed()?;
            let found = unindexed.tails[table as usize].digests.get(d).copied();
            (unindexed.check_rows, found)
        };
        if let Some(id) = found {
            let current = !check_rows || {
                // The row checked may be one still to write.
                self.write_rows(conn)?;
                conn.prepare_cached(table.row_digest())?
                    .query_row([id], |r| Ok(r.get::<_, Vec<u8>>(0)? == d[..]))
                    .optional()?
                    == Some(true)
            };
            if current {
                return Ok(Some(id));
            }
            self.unindexed()?.tails[table as usize].digests.remove(d);
        }
        if !self.unindexed()?.may_be_indexed(d) {
            return Ok(None);
        }
        conn.prepare_cached(table.lookup())?
            .query_row([&d[..]], |r| r.get(0))
            .optional()
    }

    /// Stores a new text or chunk (its digest found nowhere): its row is
    /// written by [`Texts::write_rows`], its count by [`Texts::flush`], with
    /// every reference of the transaction (one row written once, not
    /// inserted and then updated).
    fn insert(
        &mut self,
        conn: &Connection,
        table: Table,
        d: &Digest,
        blob: Vec<u8>,
    ) -> rusqlite::Result<i64> {
        let unwritten = &mut self.unwritten[table as usize];
        let id = match unwritten.next_id {
            Some(id) => id,
            None => {
                let last: Option<i64> = conn
                    .prepare_cached(table.last_id())?
                    .query_row([], |r| r.get(0))?;
                last.unwrap_or(0).checked_add(1).ok_or_else(|| {
                    rusqlite::Error::ToSqlConversionFailure("no row id left".into())
                })?
            }
        };
        unwritten.next_id = id.checked_add(1);
        unwritten.rows.push((id, *d, blob));
        let unindexed = self.unindexed()?;
        let tail = &mut unindexed.tails[table as usize];
        if id > tail.upto {
            tail.digests.insert(*d, id);
        } else {
            // The id of a row deleted at the top, taken again: below the
            // watermark, so indexed now.
            unindexed.indexing(d);
            conn.prepare_cached(table.index_digest())?
                .execute(params![&d[..], id])?;
        }
        Ok(id)
    }

    /// Stores a text or chunk worked out as new before the writer lock,
    /// unless it is stored (the hint was wrong).
    fn insert_or_find(
        &mut self,
        conn: &Connection,
        table: Table,
        d: &Digest,
        blob: Vec<u8>,
    ) -> rusqlite::Result<Held> {
        Ok(match self.stored(conn, table, d)? {
            Some(id) => Held::new(id),
            None => Held::new(self.insert(conn, table, d, blob)?),
        })
    }

    fn compressor(&mut self) -> rusqlite::Result<&mut Compressor> {
        let c = match self.compressor.take() {
            Some(c) => c,
            None => self
                .dictionaries
                .get_or_insert_with(Arc::default)
                .compressor()
                .ok_or_else(|| rusqlite::Error::ToSqlConversionFailure("no zstd context".into()))?,
        };
        Ok(self.compressor.insert(c))
    }

    /// Writes the rows stored and not written yet, eight a statement: before
    /// anything reads their tables.
    pub(super) fn write_rows(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for table in [Table::Texts, Table::Chunks] {
            let rows = std::mem::take(&mut self.unwritten[table as usize].rows);
            if rows.is_empty() {
                continue;
            }
            let mut batch = RowBatch::new(conn, table.inserts());
            for (id, d, blob) in &rows {
                batch.push([
                    ToSqlOutput::from(*id),
                    ToSqlOutput::from(&d[..]),
                    ToSqlOutput::from(&blob[..]),
                ])?;
            }
            batch.flush()?;
        }
        Ok(())
    }

    /// Writes the rows stored and the reference counts added by this
    /// transaction (and forgets them: a second flush writes only what came
    /// after the first).
    pub(super) fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.write_rows(conn)?;
        for (table, added) in [
            (Table::Texts, &mut self.texts),
            (Table::Chunks, &mut self.chunks),
        ] {
            let mut rows: Vec<(i64, i64)> = added
                .values_mut()
                .filter(|held| held.added != 0)
                .map(|held| (held.id, std::mem::take(&mut held.added)))
                .collect();
            // Many rows a statement, in a few fixed sizes (each prepared
            // once), in id order: a turn's new texts and chunks append.
            rows.sort_unstable();
            let mut rows = &rows[..];
            while !rows.is_empty() {
                let n = REFS_A_STATEMENT.min(1 << rows.len().ilog2());
                let (these, rest) = rows.split_at(n);
                conn.prepare_cached(&table.add_refs(n))?
                    .execute(rusqlite::params_from_iter(
                        these.iter().flat_map(|&(id, count)| [id, count]),
                    ))?;
                rows = rest;
            }
        }
        Ok(())
    }
}

/// How a text not yet stored will be stored, worked out before the writer
/// lock ([`new_texts`]).
pub(super) enum NewText {
    /// A short text's body, encoded.
    Whole(Vec<u8>),
    /// A long text's chunks, in order.
    Chunked(Vec<NewChunk>),
}

/// A chunk of a [`NewText`].
pub(super) struct NewChunk {
    digest: Digest,
    /// Where it is in the text.
    bytes: Range<usize>,
    /// Its `chunks.data`, unless it was known to be stored.
    data: Option<Vec<u8>>,
}

impl NewText {
    /// How `bytes` is stored: encoded whole if short, else cut into chunks,
    /// each encoded unless `known` says it is stored.
    fn of(
        bytes: &[u8],
        known: &mut dyn FnMut(&Digest) -> bool,
        compressor: &mut Compressor,
    ) -> Self {
        if bytes.len() < CHUNKED_MIN_BYTES {
            return NewText::Whole(encode(compressor, bytes));
        }
        let mut start = 0;
        let chunks = chunks(bytes)
            .map(|chunk| {
                let range = start..start + chunk.len();
                start = range.end;
                let digest = digest(chunk);
                NewChunk {
                    data: (!known(&digest)).then(|| encode(compressor, chunk)),
                    digest,
                    bytes: range,
                }
            })
            .collect();
        NewText::Chunked(chunks)
    }
}

/// Works out, before the writer lock, how to store the texts of a request
/// that [`Known`] does not list (each distinct text once).
pub(super) fn new_texts<'a>(
    texts: impl Iterator<Item = (&'a str, Digest)>,
    known: &Known,
    compressor: &mut Compressor,
) -> DigestMap<NewText> {
    let mut unknown: DigestMap<&str> = DigestMap::default();
    {
        let known = known.lock();
        for (text, d) in texts {
            if !known.contains(&d) {
                unknown.entry(d).or_insert(text);
            }
        }
    }
    unknown
        .into_iter()
        .map(|(d, text)| {
            let new = NewText::of(text.as_bytes(), &mut |c| known.contains(c), compressor);
            (d, new)
        })
        .collect()
}

/// Digests most recently added, bounded: two generations of at most
/// `generation` entries, the older dropped when the newer is full.
struct Recent<V> {
    newer: DigestMap<V>,
    older: DigestMap<V>,
    generation: usize,
}

impl<V: Copy> Recent<V> {
    fn new(generation: usize) -> Self {
        Self {
            newer: DigestMap::default(),
            older: DigestMap::default(),
            generation,
        }
    }

    fn get(&self, d: &Digest) -> Option<V> {
        self.newer.get(d).or_else(|| self.older.get(d)).copied()
    }

    fn insert(&mut self, d: Digest, value: V) {
        if self.newer.len() >= self.generation {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(d, value);
    }
}

/// Digests of texts and chunks recently found or stored by the writer: a
/// hint for the work done before its lock ([`new_texts`]), never trusted (a
/// text may be deleted since).
pub(super) struct Known {
    recent: Mutex<Recent<()>>,
}

/// [`Known`], locked.
pub(super) struct KnownGuard<'a>(std::sync::MutexGuard<'a, Recent<()>>);

impl KnownGuard<'_> {
    fn contains(&self, d: &Digest) -> bool {
        self.0.get(d).is_some()
    }
}

impl Default for Known {
    fn default() -> Self {
        Self {
            recent: Mutex::new(Recent::new(Self::GENERATION)),
        }
    }
}

impl Known {
    /// Digests a generation holds: 2 × 128k × about 40 bytes is 10 MB at
    /// most, the texts and chunks of a few hundred requests.
    const GENERATION: usize = 1 << 17;

    fn lock(&self) -> KnownGuard<'_> {
        // A panic elsewhere cannot leave the sets inconsistent for a hint.
        KnownGuard(self.recent.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn contains(&self, d: &Digest) -> bool {
        self.lock().contains(d)
    }

    /// Remembers digests a committed transaction found or stored.
    pub(super) fn remember<'a>(&self, digests: impl Iterator<Item = &'a Digest>) {
        let mut guard = self.lock();
        for d in digests {
            guard.0.insert(*d, ());
        }
    }
}

/// The row ids of texts and chunks that committed transactions found or
/// stored, so that the writer finds a text it used lately without searching
/// the digest index. Exact, unlike [`Known`]: only the writer changes the
/// tables, and it keeps this only across its span writes that delete
/// nothing ([`Texts::lend`], [`Texts::give_back`]); any other write clears
/// it. Bounded like [`Known`], smaller: the texts every conversation uses
/// (a system prompt, popular documents) and the current conversations'.
pub(super) struct StoredIds {
    texts: Recent<i64>,
    chunks: Recent<i64>,
}

impl Default for StoredIds {
    fn default() -> Self {
        Self {
            texts: Recent::new(Self::GENERATION),
            chunks: Recent::new(Self::GENERATION),
        }
    }
}

impl StoredIds {
    /// Row ids a generation of each table holds: 4 × 8k × about 50 bytes,
    /// under 2 MB (the ingest benchmark's peak memory grew by 10–20 MB with
    /// 32k, and ran no faster).
    const GENERATION: usize = 1 << 13;
}

/// The digests of the texts and chunks stored after the digest tables'
/// watermarks, in the writer's memory, and the watermarks.
///
/// A content-addressed row gets a new, random digest: a unique index on it
/// puts every new row's entry on a page of its own, which the commit writes
/// to the WAL (most of what a write wrote; ingest ran 35–55% faster without
/// it). So `texts` and `chunks` are appended without one; `text_digests`
/// and `chunk_digests` hold the digests of the rows up to a watermark
/// (`digests_indexed`), and the rows after it, a few tens of thousands, are
/// found here. When they are [`Unindexed::MERGE_AT`], they are inserted into
/// the digest tables in digest order, which writes each page of the index
/// once for many digests, and the watermark moves past them. The insert is
/// cut in [`Unindexed::MERGE_SLICES`] slices of consecutive digests, one
/// before each of as many span writes ([`merge_step`]): a slice covers its
/// own range of the index, so the pages written are those of one insert,
/// and no write waits for the whole merge (one merge of 64k digests held
/// the writer 110–190 ms at 120k spans, a stall every exporter felt and
/// that left a core idle). A store rebuilds this at start from the tables'
/// tails ([`Unindexed::load`]); a merge cut short by a crash is done again
/// (an indexed digest is not inserted twice).
///
/// Only the writer stores texts, and it finds a digest here or in the digest
/// tables before storing one, so a digest is stored once. An entry added by
/// a transaction that rolled back, or naming a row deleted since, is stale:
/// after either, entries are checked against their row's digest until the
/// next merge empties the map.
pub(super) struct Unindexed {
    tails: [Tail; 2],
    /// Whether an entry may name a row gone (or its id taken by another).
    check_rows: bool,
    merge_at: usize,
    /// The digests in the digest tables, once built from them at start;
    /// without it every lookup not found here descends the index.
    indexed: Option<DigestFilter>,
}

/// One table's rows after its watermark.
#[derive(Default)]
struct Tail {
    /// The last row id whose digest is in the digest table.
    upto: i64,
    digests: DigestMap<i64>,
    /// The merge of this table's digests under way, if any.
    merging: Option<Merging>,
}

/// A merge under way: the digests of a table's rows after its watermark
/// up to `target`, as they were when it began, in digest order; the first
/// `merged` of them are in the digest table.
struct Merging {
    target: i64,
    sorted: Vec<(Digest, i64)>,
    merged: usize,
}

impl Default for Unindexed {
    fn default() -> Self {
        Self {
            tails: Default::default(),
            check_rows: false,
            merge_at: Self::MERGE_AT,
            indexed: None,
        }
    }
}

impl Unindexed {
    /// Digests held before a merge, both tables together: 64k entries, about
    /// 4 MB; a merge then writes at most about the index's size, once.
    const MERGE_AT: usize = 1 << 16;

    /// Slices a merge is cut in, each inserted before a span write: 8k
    /// digests a slice by default, some 15–25 ms of the writer, about what
    /// one export of 500 spans takes.
    pub(super) const MERGE_SLICES: usize = 8;

    /// The watermarks and the digests of the rows after them.
    pub(super) fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut unindexed = Self::default();
        for table in [Table::Texts, Table::Chunks] {
            let tail = &mut unindexed.tails[table as usize];
            tail.upto = conn.query_row(
                "SELECT upto FROM digests_indexed WHERE name = ?1",
                [table.name()],
                |r| r.get(0),
            )?;
            let mut stmt = conn.prepare(&format!(
                "SELECT digest, id FROM {} WHERE id > ?1",
                table.name()
            ))?;
            let mut rows = stmt.query([tail.upto])?;
            while let Some(r) = rows.next()? {
                let bytes: Vec<u8> = r.get(0)?;
                let d: Digest = bytes.as_slice().try_into().map_err(|_| {
                    rusqlite::Error::ToSqlConversionFailure("a digest of another size".into())
                })?;
                tail.digests.insert(d, r.get(1)?);
            }
        }
        // The watermarks bound the rows the digest tables index.
        let expected = unindexed.tails.iter().map(|t| t.upto.max(0)).sum::<i64>();
        unindexed.indexed = Some(DigestFilter::build(
            conn,
            &[Table::Texts.digests(), Table::Chunks.digests()],
            usize::try_from(expected).unwrap_or(usize::MAX),
        )?);
        Ok(unindexed)
    }

    /// Whether the digest tables may hold `d` (`false`: they do not).
    fn may_be_indexed(&self, d: &Digest) -> bool {
        self.indexed.as_ref().is_none_or(|f| f.may_contain(d))
    }

    /// Before `d` is inserted into a digest table: the filter never says
    /// "not there" for a digest the tables hold (if the insert rolls back,
    /// `d` only makes its lookups descend).
    fn indexing(&mut self, d: &Digest) {
        if let Some(filter) = &mut self.indexed {
            filter.insert(d);
        }
    }

    /// Whether a [`merge_step`] is due: a merge is under way, or enough
    /// digests wait for one.
    pub(super) fn merge_due(&self) -> bool {
        self.tails.iter().any(|t| t.merging.is_some())
            || self.tails.iter().map(|t| t.digests.len()).sum::<usize>() >= self.merge_at
    }

    /// After a rollback or a write that may have deleted texts.
    pub(super) fn check_rows(&mut self) {
        self.check_rows = true;
    }

    /// Whether entries are checked against their rows.
    #[cfg(test)]
    pub(super) fn checks_rows(&self) -> bool {
        self.check_rows
    }

    pub(super) fn merge_at(&mut self, n: usize) {
        self.merge_at = n.max(1);
    }
}

/// What a [`merge_step`] did, for [`merged`] to apply to the writer's
/// memory once its transaction commits.
pub(super) enum MergeStep {
    /// Every row after the watermarks merged at once: the new watermarks.
    Whole([i64; 2]),
    /// The next `merged` digests of a table's merge under way; `done` when
    /// they were its last (the watermark moved to its target).
    Slice {
        table: Table,
        merged: usize,
        done: bool,
    },
}

/// The next step of merging the digests after the watermarks into the
/// digest tables (in `tx`): the next slice of the merge under way, begun
/// if none is. While entries may name rows gone ([`Unindexed::check_rows`])
/// the rows, not the entries, say what to merge, all at once ([`merge`]).
/// The digests inserted are added to the filter as they are
/// ([`Unindexed::indexing`]).
pub(super) fn merge_step(
    tx: &Connection,
    unindexed: &mut Unindexed,
) -> rusqlite::Result<MergeStep> {
    if unindexed.check_rows {
        return merge(tx, unindexed).map(MergeStep::Whole);
    }
    let slice = (unindexed.merge_at / Unindexed::MERGE_SLICES).max(1);
    let Unindexed { tails, indexed, .. } = unindexed;
    if tails.iter().all(|t| t.merging.is_none()) {
        // Every entry names its row (no rollback or delete since the last
        // merge): they are what the tables hold after the watermarks.
        for tail in tails.iter_mut() {
            let mut sorted: Vec<(Digest, i64)> =
                tail.digests.iter().map(|(d, id)| (*d, *id)).collect();
            sorted.sort_unstable();
            // Every entry is past the watermark.
            let target = sorted.iter().map(|(_, id)| *id).max().unwrap_or(tail.upto);
            tail.merging = Some(Merging {
                target,
                sorted,
                merged: 0,
            });
        }
    }
    let Some((table, merging)) = [Table::Texts, Table::Chunks]
        .into_iter()
        .zip(tails.iter())
        .find_map(|(table, tail)| Some((table, tail.merging.as_ref()?)))
    else {
        // Not reached: a merge was just begun for each table. Nothing merged.
        return Ok(MergeStep::Slice {
            table: Table::Texts,
            merged: 0,
            done: false,
        });
    };
    let end = (merging.merged + slice).min(merging.sorted.len());
    // A digest indexed already (a merge cut short by a crash, done again)
    // keeps its entry.
    let mut insert = tx.prepare_cached(table.merge_digest())?;
    for (d, id) in &merging.sorted[merging.merged..end] {
        if let Some(filter) = indexed {
            filter.insert(d);
        }
        insert.execute(params![&d[..], id])?;
    }
    let done = end == merging.sorted.len();
    if done {
        tx.execute(
            "UPDATE digests_indexed SET upto = ?1 WHERE name = ?2",
            params![merging.target, table.name()],
        )?;
    }
    Ok(MergeStep::Slice {
        table,
        merged: end - merging.merged,
        done,
    })
}

/// Inserts the digests of the rows after the watermarks into the digest
/// tables, in digest order, and moves the watermarks (in `tx`); `unindexed`
/// is emptied by [`merged`] once that commits. The digests inserted are
/// added to its filter as they are ([`Unindexed::indexing`]).
fn merge(tx: &Connection, unindexed: &mut Unindexed) -> rusqlite::Result<[i64; 2]> {
    let mut upto = [0; 2];
    for table in [Table::Texts, Table::Chunks] {
        let before = unindexed.tails[table as usize].upto;
        let (name, digests) = (table.name(), table.digests());
        // A row stored twice (no version does) keeps its first entry.
        let mut insert = tx.prepare(&format!(
            "INSERT OR ROLLBACK INTO {digests} (digest, id) SELECT digest, id FROM {name}
             WHERE id > ?1 ORDER BY digest ON CONFLICT (digest) DO NOTHING
             RETURNING digest"
        ))?;
        let mut inserted = insert.query([before])?;
        while let Some(row) = inserted.next()? {
            if let Ok(d) = <Digest>::try_from(row.get_ref(0)?.as_blob()?) {
                unindexed.indexing(&d);
            }
        }
        let last: i64 = tx.query_row(
            &format!("SELECT coalesce(max(id), ?1) FROM {name}"),
            [before],
            |r| r.get(0),
        )?;
        tx.execute(
            "UPDATE digests_indexed SET upto = ?1 WHERE name = ?2",
            params![last, name],
        )?;
        upto[table as usize] = last;
    }
    Ok(upto)
}

/// Applies a [`merge_step`] that committed: after a whole merge, or the
/// last slice of a table's, the entries up to the new watermark leave
/// memory.
pub(super) fn merged(unindexed: &mut Unindexed, step: MergeStep) {
    match step {
        MergeStep::Whole(upto) => {
            for (tail, upto) in unindexed.tails.iter_mut().zip(upto) {
                tail.upto = upto;
                tail.digests = DigestMap::default();
                tail.merging = None;
            }
            unindexed.check_rows = false;
        }
        MergeStep::Slice {
            table,
            merged,
            done,
        } => {
            let tail = &mut unindexed.tails[table as usize];
            let Some(merging) = &mut tail.merging else {
                return;
            };
            merging.merged += merged;
            if done {
                let target = merging.target;
                tail.upto = target;
                tail.merging = None;
                tail.digests.retain(|_, id| *id > target);
            }
        }
    }
}

/// Releases references to texts (text id to references dropped): texts no
/// span uses any more are deleted ([`deletions`] counts it), and the
/// chunks no text uses any more.
pub(super) fn release(tx: &mut dyn SqlTx, released: BTreeMap<i64, i64>) -> Result<(), StoreError> {
    let texts = unused(tx, Table::Texts, released)?;
    if texts.is_empty() {
        return Ok(());
    }
    let list = tx.dialect().in_ints("$1");
    let texts = SqlValue::IntList(texts);
    let mut chunks: BTreeMap<i64, i64> = BTreeMap::new();
    for r in tx.query(
        &format!("SELECT body FROM texts WHERE id {list}"),
        std::slice::from_ref(&texts),
    )? {
        if let Some((&CHUNKED, ids)) = r.blob(0)?.split_first() {
            for id in unpack_ids(ids)? {
                *chunks.entry(id).or_default() += 1;
            }
        }
    }
    delete(tx, Table::Texts, texts)?;
    let chunks = unused(tx, Table::Chunks, chunks)?;
    if !chunks.is_empty() {
        delete(tx, Table::Chunks, SqlValue::IntList(chunks))?;
    }
    Ok(())
}

/// Lowers the counts of `table`'s rows (row id to references dropped);
/// returns the rows no longer used.
fn unused(
    tx: &mut dyn SqlTx,
    table: Table,
    released: BTreeMap<i64, i64>,
) -> Result<Vec<i64>, StoreError> {
    let uses = table.uses();
    for (id, n) in &released {
        tx.execute(
            &format!("UPDATE {uses} SET refs = refs - $1 WHERE id = $2"),
            &[(*n).into(), (*id).into()],
        )?;
    }
    if released.is_empty() {
        return Ok(Vec::new());
    }
    let list = tx.dialect().in_ints("$1");
    tx.query(
        &format!("SELECT id FROM {uses} WHERE id {list} AND refs <= 0"),
        &[SqlValue::IntList(released.into_keys().collect())],
    )?
    .iter()
    .map(|r| r.int(0))
    .collect()
}

/// Deletes of texts or chunks by any store of this process so far, for a
/// writer to tell whether a write deleted any ([`deletions`]).
static DELETIONS: AtomicU64 = AtomicU64::new(0);

/// How many deletes of texts or chunks this process's stores have run. A
/// store that reads it before and after a write of its own (under its
/// writer lock) knows the write deleted none if it has not moved; another
/// store's delete only makes it think one might have.
pub(super) fn deletions() -> u64 {
    DELETIONS.load(Ordering::Relaxed)
}

/// Deletes rows of `table`, their digests and their counts. (A row after
/// the watermark is in the writer's memory, not in the digest table: the
/// writer checks its entries against their rows after a delete.)
fn delete(tx: &mut dyn SqlTx, table: Table, ids: SqlValue) -> Result<(), StoreError> {
    DELETIONS.fetch_add(1, Ordering::Relaxed);
    let list = tx.dialect().in_ints("$1");
    let (name, digests) = (table.name(), table.digests());
    tx.execute(
        &format!(
            "DELETE FROM {digests} WHERE digest IN (SELECT digest FROM {name} WHERE id {list})"
        ),
        std::slice::from_ref(&ids),
    )?;
    for name in [table.name(), table.uses()] {
        tx.execute(
            &format!("DELETE FROM {name} WHERE id {list}"),
            std::slice::from_ref(&ids),
        )?;
    }
    Ok(())
}

/// What is wrong with the digest tables (for `oi-sessions check`): a text or
/// chunk up to the watermark whose digest is not indexed to it would be
/// stored again; an entry naming a row gone or another digest would be
/// found for a text it is not; a digest stored twice.
pub(super) fn check_digests(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    for table in [Table::Texts, Table::Chunks] {
        let (name, digests) = (table.name(), table.digests());
        let count =
            |sql: String| -> rusqlite::Result<i64> { conn.query_row(&sql, [], |r| r.get(0)) };
        let unindexed = count(format!(
            "SELECT count(*) FROM {name} t
             WHERE t.id <= (SELECT upto FROM digests_indexed WHERE name = '{name}')
               AND NOT EXISTS (SELECT 1 FROM {digests} d WHERE d.digest = t.digest AND d.id = t.id)"
        ))?;
        let stale = count(format!(
            "SELECT count(*) FROM {digests} d
             WHERE NOT EXISTS (SELECT 1 FROM {name} t WHERE t.id = d.id AND t.digest = d.digest)"
        ))?;
        let twice = count(format!(
            "SELECT count(*) FROM (SELECT digest FROM {name} GROUP BY digest HAVING count(*) > 1)"
        ))?;
        for (n, what) in [
            (unindexed, "missing from their digest index"),
            (stale, "digest index entries naming no such row"),
            (twice, "digests stored twice"),
        ] {
            if n > 0 {
                problems.push(format!("{name}: {n} {what}"));
            }
        }
    }
    Ok(problems)
}

/// Damaged dictionaries, and blobs (texts, chunks, span bodies) compressed
/// with a dictionary the database does not hold (or holds damaged): they
/// cannot be read. One line a table.
pub(super) fn check_dictionaries(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut check = DictionaryCheck::read(&mut super::SqliteTx(conn))?;
    for (table, column, tagged) in [
        ("texts", "body", true),
        ("chunks", "data", true),
        ("spans", "body", false),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT id, {column} FROM {table}"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let ValueRef::Blob(blob) = r.get_ref(1)? else {
                continue;
            };
            let frame = match (tagged, blob.split_first()) {
                (true, Some((&ZSTD, frame))) => frame,
                (true, _) => continue,
                (false, _) => blob,
            };
            check.see(r.get(0)?, frame);
        }
        check.end_table(table);
    }
    Ok(check.problems)
}

/// What is wrong with the reference counts of `texts` and `chunks` (for
/// `oi-sessions check`): a count lower than its users would let a delete free
/// a text still in use; a higher one keeps a text for ever. Reads every
/// span's and trace's references: minutes on a large database.
pub(super) fn check_references(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut used: HashMap<i64, i64> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT input_text, output_text, last_user_text, reply_text, text_refs FROM spans",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        for i in 0..4 {
            if let Some(id) = r.get::<_, Option<i64>>(i)? {
                *used.entry(id).or_default() += 1;
            }
        }
        let refs: Vec<u8> = r.get(4)?;
        for id in unpack_ids(&refs)? {
            *used.entry(id).or_default() += 1;
        }
    }
    let mut stmt = conn.prepare("SELECT input_text, output_text FROM traces")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        for i in 0..2 {
            if let Some(id) = r.get::<_, Option<i64>>(i)? {
                *used.entry(id).or_default() += 1;
            }
        }
    }
    let mut problems = Vec::new();
    let mut listed: HashMap<i64, i64> = HashMap::new();
    // A count without its row, or a row without a count (0), is found too.
    let mut stmt = conn.prepare(
        "SELECT t.id, coalesce(u.refs, 0), t.body FROM texts t
             LEFT JOIN text_uses u ON u.id = t.id
         UNION ALL SELECT u.id, NULL, NULL FROM text_uses u
             WHERE u.id NOT IN (SELECT id FROM texts)",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, refs): (i64, Option<i64>) = (r.get(0)?, r.get(1)?);
        let Some(refs) = refs else {
            problems.push(format!("text {id} is counted but not stored"));
            continue;
        };
        let users = used.remove(&id).unwrap_or(0);
        if refs != users {
            problems.push(format!("text {id} counts {refs} references, {users} found"));
        }
        if let ValueRef::Blob(body) = r.get_ref(2)?
            && let Some((&CHUNKED, ids)) = body.split_first()
        {
            for chunk in unpack_ids(ids)? {
                *listed.entry(chunk).or_default() += 1;
            }
        }
    }
    for (id, users) in used {
        problems.push(format!("text {id} is missing ({users} references)"));
    }
    let mut stmt = conn.prepare(
        "SELECT c.id, coalesce(u.refs, 0) FROM chunks c LEFT JOIN chunk_uses u ON u.id = c.id
         UNION ALL SELECT u.id, NULL FROM chunk_uses u
             WHERE u.id NOT IN (SELECT id FROM chunks)",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, refs): (i64, Option<i64>) = (r.get(0)?, r.get(1)?);
        let Some(refs) = refs else {
            problems.push(format!("chunk {id} is counted but not stored"));
            continue;
        };
        let users = listed.remove(&id).unwrap_or(0);
        if refs != users {
            problems.push(format!(
                "chunk {id} counts {refs} references, {users} found"
            ));
        }
    }
    for (id, users) in listed {
        problems.push(format!("chunk {id} is missing ({users} references)"));
    }
    problems.sort();
    Ok(problems)
}

/// Migration 13: texts as they were stored before (the text itself, found by
/// an FNV-1a hash) rewritten as digests and chunks, keeping their ids (spans
/// refer to them) and reference counts.
///
/// It writes the tables as they are today, counts apart (which migration 15
/// moves out of databases migrated before).
pub(super) fn migrate_to_chunks(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "ALTER TABLE texts RENAME TO texts_v1;
         CREATE TABLE texts (
             id INTEGER PRIMARY KEY,
             digest BLOB NOT NULL,
             body BLOB NOT NULL
         );
         CREATE TABLE chunks (
             id INTEGER PRIMARY KEY,
             digest BLOB NOT NULL,
             data BLOB NOT NULL
         );",
    )?;
    create_uses_tables(conn)?;
    create_digest_tables(conn)?;
    let mut texts = Texts::default();
    texts.lend(StoredIds::default(), Unindexed::default());
    {
        let mut old = conn.prepare("SELECT id, refs, text FROM texts_v1 ORDER BY id")?;
        let mut rows = old.query([])?;
        let mut put = conn.prepare("INSERT INTO texts (id, digest, body) VALUES (?1, ?2, ?3)")?;
        let mut count = conn.prepare(&Table::Texts.add_refs(1))?;
        while let Some(r) = rows.next()? {
            let (id, refs): (i64, i64) = (r.get(0)?, r.get(1)?);
            let text = r
                .get_ref(2)?
                .as_str()
                .map_err(|_| corrupt(format!("text {id} is not UTF-8")))?;
            let body = texts.body(conn, text.as_bytes())?;
            put.execute(params![id, &digest(text.as_bytes())[..], body])
                .map_err(|e| corrupt(format!("text {id} stored twice ({e})")))?;
            count.execute(params![id, refs])?;
        }
    }
    texts.flush(conn)?;
    conn.execute_batch("DROP TABLE texts_v1;")?;
    // Every text and chunk indexed, the watermarks at the end.
    merge(conn, &mut texts.give_back(true, false).1)?;
    Ok(())
}

/// The digest tables, empty, their watermarks at 0 ([`Unindexed`]).
fn create_digest_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE text_digests (digest BLOB PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE chunk_digests (digest BLOB PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE digests_indexed (name TEXT PRIMARY KEY, upto INTEGER NOT NULL);
         INSERT INTO digests_indexed (name, upto) VALUES ('texts', 0), ('chunks', 0);",
    )
}

/// Migration 20: `texts` and `chunks` without their unique digest index,
/// the digests in tables of their own up to a watermark ([`Unindexed`]).
/// Rebuilds both tables (no foreign key points at them); a database that
/// migration 13 converted since has them already.
pub(super) fn index_digests_apart(conn: &Connection) -> Result<(), StoreError> {
    let done: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'text_digests'",
        [],
        |r| r.get(0),
    )?;
    if done {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TABLE texts_apart (id INTEGER PRIMARY KEY, digest BLOB NOT NULL, body BLOB NOT NULL);
         INSERT INTO texts_apart (id, digest, body) SELECT id, digest, body FROM texts ORDER BY id;
         DROP TABLE texts;
         ALTER TABLE texts_apart RENAME TO texts;
         CREATE TABLE chunks_apart (id INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);
         INSERT INTO chunks_apart (id, digest, data) SELECT id, digest, data FROM chunks ORDER BY id;
         DROP TABLE chunks;
         ALTER TABLE chunks_apart RENAME TO chunks;",
    )?;
    create_digest_tables(conn)?;
    merge(conn, &mut Unindexed::default())?;
    Ok(())
}

/// Migration 24: every text and chunk addressed anew by [`digest`] (BLAKE3;
/// SHA-256 before), read back whole a slice of rows at a time, and the
/// digest index rebuilt. The dictionaries blobs were compressed with are
/// loaded here (the store loads its own after migrating). A blob that cannot
/// be read (its dictionary damaged or gone: `oi-sessions check` lists them)
/// keeps its old digest: no text is found by it, and the same text written
/// again is stored anew.
pub(super) fn address_anew(conn: &Connection) -> Result<(), StoreError> {
    const SLICE_ROWS: i64 = 4096;
    let dictionaries = Dictionaries::default();
    compression::load_dictionaries(&mut super::SqliteTx(conn), &dictionaries)?;
    let mut unreadable = 0;
    for table in [Table::Chunks, Table::Texts] {
        let (name, blob) = (table.name(), table.blob_column());
        let mut read = conn.prepare(&format!(
            "SELECT id, {blob} FROM {name} WHERE id > ?1 ORDER BY id LIMIT {SLICE_ROWS}"
        ))?;
        let mut write = conn.prepare(&format!("UPDATE {name} SET digest = ?2 WHERE id = ?1"))?;
        let mut after = i64::MIN;
        loop {
            // Read a slice, then write it: a table is not changed under a
            // statement reading it.
            let mut slice: Vec<(i64, Digest)> = Vec::new();
            let mut rows = read.query([after])?;
            let mut rows_read = 0;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                (after, rows_read) = (id, rows_read + 1);
                let Ok(stored) = row.get_ref(1)?.as_blob() else {
                    unreadable += 1;
                    continue;
                };
                let bytes = match table {
                    Table::Texts => assemble(conn, stored, &dictionaries).map(String::into_bytes),
                    Table::Chunks => {
                        let mut bytes = Vec::new();
                        decode_into(stored, &mut bytes, &dictionaries).map(|()| bytes)
                    }
                };
                match bytes {
                    Ok(bytes) => slice.push((id, digest(&bytes))),
                    Err(_) => unreadable += 1,
                }
            }
            drop(rows);
            if rows_read == 0 {
                break;
            }
            for (id, d) in &slice {
                write.execute(params![id, &d[..]])?;
            }
        }
    }
    if unreadable > 0 {
        tracing::error!(
            "{unreadable} stored texts or chunks could not be read to be addressed anew: \
             `oi-sessions check` lists them"
        );
    }
    conn.execute_batch(
        "DELETE FROM text_digests;
         DELETE FROM chunk_digests;
         UPDATE digests_indexed SET upto = 0;",
    )?;
    merge(conn, &mut Unindexed::default())?;
    Ok(())
}

fn create_uses_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS text_uses (id INTEGER PRIMARY KEY, refs INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS chunk_uses (id INTEGER PRIMARY KEY, refs INTEGER NOT NULL);",
    )
}

/// Migration 15: the reference counts of a database migrated to chunks before
/// they had tables of their own, moved there (a count beside a body made every
/// write that used a popular text rewrite a page of bodies).
pub(super) fn move_counts_apart(conn: &Connection) -> Result<(), StoreError> {
    create_uses_tables(conn)?;
    for table in [Table::Texts, Table::Chunks] {
        let (name, uses) = (table.name(), table.uses());
        let has_refs: bool = conn.query_row(
            &format!("SELECT count(*) > 0 FROM pragma_table_info('{name}') WHERE name = 'refs'"),
            [],
            |r| r.get(0),
        )?;
        if has_refs {
            conn.execute_batch(&format!(
                "INSERT INTO {uses} (id, refs) SELECT id, refs FROM {name};
                 ALTER TABLE {name} DROP COLUMN refs;"
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose(seed: u64, len: usize) -> String {
        let mut x = seed;
        let mut s = String::new();
        while s.len() < len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push_str(
                [
                    "the ", "order ", "arrived ", "late ", "été ", "ß ", "refund\n",
                ][(x >> 60) as usize % 7],
            );
        }
        s
    }

    #[test]
    fn chunks_cover_the_text_within_bounds() {
        let text = prose(1, 100_000);
        let parts: Vec<&[u8]> = chunks(text.as_bytes()).collect();
        assert_eq!(parts.concat(), text.as_bytes());
        let (last, rest) = parts.split_last().unwrap();
        assert!(
            rest.iter()
                .all(|c| (CHUNK_MIN_BYTES..=CHUNK_MAX_BYTES).contains(&c.len()))
        );
        assert!(last.len() <= CHUNK_MAX_BYTES);
        let mean = text.len() / parts.len();
        assert!((400..=1400).contains(&mean), "mean chunk {mean} bytes");
    }

    #[test]
    fn equal_content_is_cut_alike_after_a_different_start() {
        let shared = prose(2, 20_000);
        let a = format!("{}{shared}", prose(3, 700));
        let b = format!("{}{shared}", prose(4, 1_900));
        let set = |t: &str| {
            chunks(t.as_bytes())
                .map(<[u8]>::to_vec)
                .collect::<std::collections::HashSet<_>>()
        };
        let (ca, cb) = (set(&a), set(&b));
        let common: usize = ca.intersection(&cb).map(Vec::len).sum();
        assert!(
            common > 17_000,
            "only {common} of 20,000 shared bytes in common chunks"
        );
    }

    /// Texts stored the old way (the text itself) read back the same after
    /// migration 13, keep their ids and reference counts, and a long one
    /// becomes chunks counted once per use.
    #[test]
    fn migration_keeps_ids_refs_and_texts() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn, &Arc::default()).unwrap();
        conn.execute_batch(
            "CREATE TABLE texts (id INTEGER PRIMARY KEY, hash INTEGER NOT NULL,
                refs INTEGER NOT NULL, text TEXT NOT NULL);
             CREATE INDEX texts_by_hash ON texts (hash);",
        )
        .unwrap();
        let long = prose(5, 20_000);
        let longer = format!("{long}{}", prose(6, 3_000));
        let old = [
            (
                3,
                2,
                "a short message of the conversation, stored whole".to_owned(),
            ),
            (7, 1, long),
            (9, 4, longer),
        ];
        for (id, refs, text) in &old {
            conn.execute(
                "INSERT INTO texts (id, hash, refs, text) VALUES (?1, 0, ?2, ?3)",
                params![id, refs, text],
            )
            .unwrap();
        }
        migrate_to_chunks(&conn).unwrap();
        for (id, refs, text) in &old {
            let (read, stored_refs, d): (String, i64, Vec<u8>) = conn
                .query_row(
                    "SELECT oi_text(body), refs, digest FROM texts JOIN text_uses USING (id)
                     WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!(
                (&read, stored_refs, &d[..]),
                (text, *refs, &digest(text.as_bytes())[..]),
                "text {id}"
            );
        }
        // The longer text repeats the long one's chunks but its last: most
        // chunks are used by both.
        let shared: i64 = conn
            .query_row("SELECT count(*) FROM chunk_uses WHERE refs = 2", [], |r| {
                r.get(0)
            })
            .unwrap();
        let all: i64 = conn
            .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .unwrap();
        assert!(shared * 10 > all * 7, "{shared} of {all} chunks shared");
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'texts_v1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }

    /// A database migrated to chunks before the counts had tables of their
    /// own: migration 15 moves every count there and drops the old columns;
    /// a database already in today's layout is left as it is.
    #[test]
    fn texts_stored_and_not_yet_written_are_found_and_written_after_the_last_row() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE texts (id INTEGER PRIMARY KEY, digest BLOB NOT NULL, body BLOB NOT NULL);
             CREATE TABLE chunks (id INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);
             INSERT INTO texts VALUES (41, x'01', x'00');",
        )
        .unwrap();
        create_uses_tables(&conn).unwrap();
        create_digest_tables(&conn).unwrap();
        let dictionaries = Arc::new(Dictionaries::default());
        register(&conn, &dictionaries).unwrap();
        // Rows checked against their digests, as after a rollback.
        let mut unindexed = Unindexed::default();
        unindexed.check_rows();
        let mut texts = Texts::default();
        texts.lend(StoredIds::default(), unindexed);
        let all = [prose(3, 100), prose(4, 5000), prose(5, 120)];
        let ids: Vec<i64> = all
            .iter()
            .map(|t| texts.intern(&conn, t, &digest(t.as_bytes())).unwrap())
            .collect();
        assert_eq!(ids, [42, 43, 44], "the ids after the table's last");
        // Found while their rows are still to write, which checking a row
        // writes.
        for (text, id) in all.iter().zip(&ids) {
            assert_eq!(texts.find(&conn, text).unwrap(), Some(*id));
        }
        texts.flush(&conn).unwrap();
        let stored: Vec<(i64, String, i64)> = conn
            .prepare(
                "SELECT t.id, oi_text(t.body), u.refs FROM texts t JOIN text_uses u USING (id)
                 WHERE t.id > 41 ORDER BY t.id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let expected: Vec<(i64, String, i64)> = ids
            .iter()
            .zip(&all)
            .map(|(&id, t)| (id, t.clone(), 1))
            .collect();
        assert_eq!(stored, expected);
        let chunks: i64 = conn
            .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .unwrap();
        assert!(chunks > 1, "the long text chunked: {chunks} chunks");
    }

    #[test]
    fn counts_move_to_their_own_tables() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE texts (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,
                 refs INTEGER NOT NULL, body BLOB NOT NULL);
             CREATE TABLE chunks (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,
                 refs INTEGER NOT NULL, data BLOB NOT NULL);
             INSERT INTO texts VALUES (4, x'01', 3, x'00'), (9, x'02', 1, x'00');
             INSERT INTO chunks VALUES (2, x'03', 7, x'00');",
        )
        .unwrap();
        let counts = |conn: &Connection, table: &str| -> Vec<(i64, i64)> {
            conn.prepare(&format!("SELECT id, refs FROM {table} ORDER BY id"))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        for _ in 0..2 {
            move_counts_apart(&conn).unwrap();
            assert_eq!(counts(&conn, "text_uses"), [(4, 3), (9, 1)]);
            assert_eq!(counts(&conn, "chunk_uses"), [(2, 7)]);
        }
        let columns: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM pragma_table_info('texts') WHERE name = 'refs')
                    + (SELECT count(*) FROM pragma_table_info('chunks') WHERE name = 'refs')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(columns, 0);
    }

    #[test]
    fn a_request_hashes_a_repeated_text_once_and_tells_same_shaped_texts_apart() {
        let base = prose(7, 400);
        // Same length, same first and last 16 bytes, one byte apart inside.
        let mut twin = base.clone().into_bytes();
        let at = (200..).find(|&i| twin[i].is_ascii()).unwrap();
        twin[at] = if twin[at] == b'x' { b'y' } else { b'x' };
        let twin = String::from_utf8(twin).unwrap();
        let again = base.clone();
        let short = "short text".to_owned();
        let mut digests = RequestDigests::default();
        for text in [&base, &twin, &again, &twin, &short, &base] {
            assert_eq!(digests.of(text), digest(text.as_bytes()), "{}", &text[..10]);
        }
        assert_ne!(digests.of(&base), digests.of(&twin));
        assert_eq!(digests.by_shape.len(), 1, "one text remembered a shape");
    }

    #[test]
    fn varints_round_trip_and_truncation_is_refused() {
        let ids = [0, 1, 127, 128, 300, i64::MAX];
        let mut packed = Vec::new();
        pack_ids(&ids, &mut packed);
        assert_eq!(unpack_ids(&packed).unwrap(), ids);
        assert!(unpack_ids(&packed[..packed.len() - 1]).is_err());
    }
}
