//! zstd, as both SQL backends store compressed blobs (span bodies; SQLite's
//! texts and chunks): frames that carry their size, compressed with a reused
//! context and read back with one decompression context a thread. Span
//! bodies written before zstd are raw deflate and still read.

use crate::store::StoreError;

/// The largest span body read back (a body's size is in its frame; this
/// bounds what a damaged one could make us allocate).
const BODY_MAX_BYTES: usize = 1 << 30;

/// A span body's JSON as stored: a zstd frame, or raw deflate (how bodies
/// were stored before zstd, which reads back too) when there is no zstd
/// context (it could not be allocated) or zstd fails.
pub fn compress_body(compressor: Option<&mut Compressor>, json: &[u8]) -> Vec<u8> {
    if let Some(frame) = compressor.and_then(|c| compress_frame(c, json, &[])) {
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

/// The JSON of a stored span body ([`compress_body`]): a zstd frame, told
/// apart by its magic number, or raw deflate.
pub fn decompress_body(blob: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut json = Vec::new();
    if is_zstd_frame(blob) {
        decompress_frame(blob, &mut json, BODY_MAX_BYTES)?;
    } else {
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(blob), &mut json)
            .map_err(|e| StoreError::Corrupt(format!("span body: {e}")))?;
    }
    Ok(json)
}

/// `bytes` as a zstd frame (with its content size) after `prefix`; `None` if
/// zstd fails.
pub fn compress_frame(compressor: &mut Compressor, bytes: &[u8], prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; prefix.len() + zstd::zstd_safe::compress_bound(bytes.len())];
    out[..prefix.len()].copy_from_slice(prefix);
    // The room is the bound: compressing cannot run out of it.
    let n = compressor
        .compress_to_buffer(bytes, &mut out[prefix.len()..])
        .ok()?;
    out.truncate(prefix.len() + n);
    Some(out)
}

/// Whether a blob is a bare zstd frame (its magic number: a raw deflate
/// stream never starts so).
fn is_zstd_frame(blob: &[u8]) -> bool {
    blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Appends what a zstd frame holds to `out`, refusing a frame that says it
/// holds more than `max` bytes.
pub fn decompress_frame(frame: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), StoreError> {
    thread_local! {
        // One decompression context a thread: a text read is many small
        // blobs.
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => usize::try_from(size).map_err(corrupt)?,
        _ => return Err(corrupt("a compressed blob without its size")),
    };
    if size > max {
        return Err(corrupt(format!("a compressed blob of {size} bytes")));
    }
    let start = out.len();
    out.resize(start + size, 0);
    let written = DECOMPRESSOR.with_borrow_mut(|d| {
        let d = match d {
            Some(d) => d,
            None => d.insert(zstd::bulk::Decompressor::new().map_err(corrupt)?),
        };
        d.decompress_to_buffer(frame, &mut out[start..])
            .map_err(corrupt)
    })?;
    if written != size {
        return Err(corrupt("a compressed blob shorter than its size"));
    }
    Ok(())
}

/// A zstd context, reused for every blob of a write (zstd sizes its tables
/// to the input and does not clear them between inputs, which deflate does,
/// 128 kB each time).
pub type Compressor = zstd::bulk::Compressor<'static>;

/// zstd's level: the fastest of its standard levels, and on chat text about
/// as small as deflate's default.
pub const ZSTD_LEVEL: i32 = 1;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("stored blob: {what}"))
}
