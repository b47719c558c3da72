//! A filter of the digests the digest tables hold, so that the writer looks
//! a new text up without descending their index.
//!
//! Most digests the writer looks up are new: the texts and chunks a turn
//! adds. Each lookup of a digest that is not in `text_digests` or
//! `chunk_digests` descended the whole index for nothing, on pages that on a
//! large database are mostly outside the writer's cache (11.5% of the
//! writer's time at 300k history-heavy spans). A Bloom filter answers "not
//! there" for nearly all of them from memory, at two bytes a digest.
//!
//! The filter never says "absent" for a digest the tables hold: every path
//! that inserts into them adds the digest here first (a merge, a digest
//! indexed at once), and a filter is only trusted once built from the whole
//! tables ([`DigestFilter::build`]). A digest deleted from the tables stays
//! in the filter: a lookup then descends and finds nothing, as it did
//! without one.
//!
//! It is blocked (all of a digest's bits in one 64-byte block: one cache
//! line a probe) and grows in layers, each twice the size of the one before,
//! so that growing never rescans the tables; a lookup probes every layer, a
//! handful on a database of millions of texts.

use rusqlite::Connection;

use super::texts::Digest;

/// Bits a digest sets in its block.
const PROBES: u32 = 7;
/// Bits of filter per digest a layer is sized for: with [`PROBES`] and
/// 512-bit blocks, about one lookup in a thousand of an absent digest says
/// "maybe" when the layer is full.
const BITS_PER_DIGEST: usize = 16;
/// The smallest layer, in digests: a merge's worth.
const MIN_LAYER_DIGESTS: usize = 1 << 16;

/// One Bloom filter of fixed capacity, blocked.
struct Layer {
    blocks: Vec<[u64; 8]>,
    capacity: usize,
    len: usize,
}

impl Layer {
    fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(MIN_LAYER_DIGESTS);
        let blocks = (capacity * BITS_PER_DIGEST).div_ceil(512);
        Self {
            blocks: vec![[0; 8]; blocks],
            capacity,
            len: 0,
        }
    }

    /// The block and the bits of `d`: a digest is already uniformly random
    /// (BLAKE3), so its two halves pick the block and the bits.
    fn position(&self, d: &Digest) -> (usize, [u64; 8]) {
        let (high, low) = d.split_at(8);
        let high = u64::from_le_bytes(high.try_into().unwrap_or_default());
        let mut low = u64::from_le_bytes(low.try_into().unwrap_or_default());
        // Multiply-shift maps the word onto the blocks without a division.
        let block = ((u128::from(high) * self.blocks.len() as u128) >> 64) as usize;
        let mut bits = [0u64; 8];
        for _ in 0..PROBES {
            // 3 bits pick a word of the block, 6 the bit in it.
            bits[(low & 7) as usize] |= 1 << ((low >> 3) & 63);
            low >>= 9;
        }
        (block, bits)
    }

    fn insert(&mut self, d: &Digest) {
        let (block, bits) = self.position(d);
        for (word, bit) in self.blocks[block].iter_mut().zip(bits) {
            *word |= bit;
        }
        self.len += 1;
    }

    fn may_contain(&self, d: &Digest) -> bool {
        let (block, bits) = self.position(d);
        self.blocks[block]
            .iter()
            .zip(bits)
            .all(|(word, bit)| word & bit == bit)
    }
}

/// The digests in the digest tables, as a Bloom filter (see the module doc).
pub(super) struct DigestFilter {
    layers: Vec<Layer>,
}

impl DigestFilter {
    /// A filter of every digest in the digest tables, sized for at least
    /// twice the rows they may hold (`expected`).
    pub(super) fn build(
        conn: &Connection,
        tables: &[&str],
        expected: usize,
    ) -> rusqlite::Result<Self> {
        let mut filter = Self {
            layers: vec![Layer::with_capacity(expected.saturating_mul(2))],
        };
        for table in tables {
            let mut stmt = conn.prepare(&format!("SELECT digest FROM {table}"))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                // A digest of another size is never looked up: skip it.
                if let Ok(d) = <Digest>::try_from(row.get_ref(0)?.as_blob()?) {
                    filter.insert(&d);
                }
            }
        }
        Ok(filter)
    }

    /// Adds a digest about to be inserted into a digest table.
    pub(super) fn insert(&mut self, d: &Digest) {
        let last = self.layers.last().map_or(0, |l| l.capacity);
        if self.layers.last().is_none_or(|l| l.len >= l.capacity) {
            self.layers.push(Layer::with_capacity(last * 2));
        }
        if let Some(layer) = self.layers.last_mut() {
            layer.insert(d);
        }
    }

    /// Whether the digest tables may hold `d`; `false` means they do not.
    pub(super) fn may_contain(&self, d: &Digest) -> bool {
        self.layers.iter().any(|l| l.may_contain(d))
    }

    /// Bytes the filter takes.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.layers.iter().map(|l| l.blocks.len() * 64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(seed: u8, n: usize) -> Vec<Digest> {
        (0..n)
            .map(|i| super::super::texts::digest(format!("{seed}-{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_digest_added_is_found_and_few_absent_ones_are() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE d (digest BLOB PRIMARY KEY) WITHOUT ROWID")
            .unwrap();
        let stored = digests(1, 50_000);
        for d in &stored {
            conn.execute("INSERT INTO d VALUES (?1)", [&d[..]]).unwrap();
        }
        let mut filter = DigestFilter::build(&conn, &["d"], stored.len()).unwrap();
        // Added after the build, past the first layer's capacity: new layers.
        let added = digests(2, 300_000);
        for d in &added {
            filter.insert(d);
        }
        assert!(filter.layers.len() >= 2, "grew in layers");
        assert!(stored.iter().chain(&added).all(|d| filter.may_contain(d)));
        let absent = digests(3, 100_000);
        let maybe = absent.iter().filter(|d| filter.may_contain(d)).count();
        // A handful of layers, each about one in a thousand when full.
        assert!(
            maybe < 1_000,
            "{maybe} of 100,000 absent digests said maybe"
        );
        // About two bytes a digest, twice that at most while a layer fills.
        let per_digest = filter.bytes() as f64 / (stored.len() + added.len()) as f64;
        assert!(per_digest < 5.0, "{per_digest} bytes a digest");
    }
}
