//! The node locations of the last snapshot, on disk: a run of `(key, location)`
//! entries sorted by key, read one 4 KiB page per lookup.
//!
//! Kept in a hash table, the locations cost some 30 bytes a node, the one part of a
//! node's memory that grew with the state (27 million nodes at 10 million accounts,
//! about 800 MB). On disk, memory holds only the first key of each page (8 bytes for
//! 256 entries); the node cache in front of it absorbs most lookups, and a lookup
//! that reaches the run costs one `pread`, served by the page cache once the file has
//! been read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

/// A SHA-256 over a run's entries, kept in the snapshot's header: the run is read
/// for as long as the store is open and carried into every merge, and a flipped key
/// bit that kept the order would hide a live node (which compaction would then take
/// for garbage). Checked at open and by each merge, which both read every entry.
pub type RunSum = [u8; 32];

/// Bytes an entry takes: the key, then the location (both little-endian).
pub const ENTRY: usize = 16;
/// Entries a page holds: one 4 KiB read finds any key.
pub const PAGE_ENTRIES: usize = 256;
/// Entries read at a time when the whole run is streamed (a merge, an open).
const STREAM_ENTRIES: usize = 1 << 16;

/// A sorted run of locations in `file`, from byte `start`: `entries` entries, each
/// key at most once.
pub struct LocationRun {
    file: File,
    start: u64,
    entries: u64,
    /// The first key of each page.
    fences: Vec<u64>,
    sum: RunSum,
}

fn entry_at(bytes: &[u8], i: usize) -> (u64, u64) {
    let at = i * ENTRY;
    (
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")),
        u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes")),
    )
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

impl LocationRun {
    /// Open a run written by `RunWriter`, streaming it once: the fences are built and
    /// every entry is handed to `visit` (the caller counts live records by segment).
    /// Keys out of order, or entries that do not hash to `sum`, are damage.
    pub fn open(
        file: File,
        start: u64,
        entries: u64,
        sum: RunSum,
        mut visit: impl FnMut(u64, u64),
    ) -> std::io::Result<Self> {
        let mut run = LocationRun {
            file,
            start,
            entries,
            fences: Vec::new(),
            sum,
        };
        let mut last: Option<u64> = None;
        let mut fences = Vec::with_capacity((entries as usize).div_ceil(PAGE_ENTRIES));
        run.stream(|i, key, location| {
            if last.is_some_and(|previous| previous >= key) {
                return Err(invalid("node locations out of order"));
            }
            last = Some(key);
            if i.is_multiple_of(PAGE_ENTRIES as u64) {
                fences.push(key);
            }
            visit(key, location);
            Ok(())
        })?;
        run.fences = fences;
        Ok(run)
    }

    /// A run over entries just written by a `RunWriter` (no second read).
    pub fn written(file: File, start: u64, entries: u64, fences: Vec<u64>, sum: RunSum) -> Self {
        LocationRun {
            file,
            start,
            entries,
            fences,
            sum,
        }
    }

    /// Bytes of memory the run keeps: its fences, one key a page.
    pub fn memory_bytes(&self) -> usize {
        self.fences.capacity() * std::mem::size_of::<u64>()
    }

    /// The location stored for `key`, if any.
    pub fn find(&self, key: u64) -> std::io::Result<Option<u64>> {
        let Some(page) = self.page_of(key) else {
            return Ok(None);
        };
        let first = page * PAGE_ENTRIES;
        let count = PAGE_ENTRIES.min(self.entries as usize - first);
        let mut bytes = [0u8; PAGE_ENTRIES * ENTRY];
        let bytes = &mut bytes[..count * ENTRY];
        self.file
            .read_exact_at(bytes, self.start + (first * ENTRY) as u64)?;
        let (mut low, mut high) = (0, count);
        while low < high {
            let middle = (low + high) / 2;
            let (found, location) = entry_at(bytes, middle);
            match found.cmp(&key) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(Some(location)),
            }
        }
        Ok(None)
    }

    /// The page whose range holds `key` (the last whose fence is at most `key`).
    /// Keys are keyed hashes, spread evenly, so the page is about where the key's
    /// value says: the search starts in a window of fences around that guess (about
    /// four standard deviations of the spread at 27 million entries), a few cache
    /// lines, where a search over all hundred thousand fences missed the CPU cache
    /// at most of its 17 steps. A key outside the window (a skewed or narrowed key
    /// space) searches them all.
    fn page_of(&self, key: u64) -> Option<usize> {
        const WINDOW: usize = 48;
        let pages = self.fences.len();
        if pages == 0 || key < self.fences[0] {
            return None;
        }
        let guess = ((u128::from(key) * pages as u128) >> 64) as usize;
        let low = guess.saturating_sub(WINDOW);
        let high = (guess + WINDOW).min(pages);
        let inside = self.fences[low] <= key && (high == pages || self.fences[high] > key);
        let (low, high) = if inside { (low, high) } else { (0, pages) };
        Some(low + self.fences[low..high].partition_point(|fence| *fence <= key) - 1)
    }

    /// Every entry in key order, with its position, read in large sequential chunks;
    /// entries that do not hash to the run's checksum fail it, once all are read.
    pub fn stream(
        &self,
        mut each: impl FnMut(u64, u64, u64) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buffer = vec![0u8; STREAM_ENTRIES * ENTRY];
        let mut hasher = Sha256::new();
        let mut done = 0u64;
        while done < self.entries {
            let count = (STREAM_ENTRIES as u64).min(self.entries - done) as usize;
            let chunk = &mut buffer[..count * ENTRY];
            self.file
                .read_exact_at(chunk, self.start + done * ENTRY as u64)?;
            hasher.update(&*chunk);
            for i in 0..count {
                let (key, location) = entry_at(chunk, i);
                each(done + i as u64, key, location)?;
            }
            done += count as u64;
        }
        if <RunSum>::from(hasher.finalize()) != self.sum {
            return Err(invalid("node locations do not match their checksum"));
        }
        Ok(())
    }
}

/// Writes a run's entries, in increasing key order, through a buffer, keeping the
/// fences as it goes.
pub struct RunWriter<W: Write> {
    out: BufWriter<W>,
    entries: u64,
    last: Option<u64>,
    fences: Vec<u64>,
    hasher: Sha256,
}

impl<W: Write> RunWriter<W> {
    pub fn new(out: W) -> Self {
        RunWriter {
            out: BufWriter::with_capacity(1 << 20, out),
            entries: 0,
            last: None,
            fences: Vec::new(),
            hasher: Sha256::new(),
        }
    }

    pub fn push(&mut self, key: u64, location: u64) -> std::io::Result<()> {
        if self.last.is_some_and(|previous| previous >= key) {
            return Err(invalid("node locations written out of order"));
        }
        self.last = Some(key);
        if self.entries.is_multiple_of(PAGE_ENTRIES as u64) {
            self.fences.push(key);
        }
        let mut entry = [0u8; ENTRY];
        entry[..8].copy_from_slice(&key.to_le_bytes());
        entry[8..].copy_from_slice(&location.to_le_bytes());
        self.hasher.update(entry);
        self.out.write_all(&entry)?;
        self.entries += 1;
        Ok(())
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes after the entries (the rest of the snapshot), through the same buffer.
    pub fn write_tail(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)
    }

    /// The entries' checksum so far.
    pub fn sum(&self) -> RunSum {
        self.hasher.clone().finalize().into()
    }

    /// The writer back (flushed), and the fences of what was written.
    pub fn finish(self) -> std::io::Result<(W, Vec<u64>)> {
        let out = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((out, self.fences))
    }
}
