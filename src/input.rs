//! Input: evidence lines from a memory-mapped file or streamed from stdin, cut into chunks on
//! line boundaries. A chunk knows its index and first line number, so chunks can be verified in
//! any order and written back in input order.
//!
//! Lines end with `\n` (a `\r` before it is dropped by [`lines`]); the last line may lack its
//! newline. On stdin a line longer than the record limit is cut short while reading (and still
//! judged `input/too_large`), so one endless line cannot exhaust memory.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memmap2::Mmap;

/// Lines per chunk: large enough to amortize the hand-off, small enough to keep every worker
/// busy and the reorder window short.
pub const CHUNK_LINES: usize = 256;
/// Bytes per chunk, whichever bound comes first.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Near the end of a file a chunk takes at most `1 / (TAIL_SHARE × workers)` of the bytes left,
/// so chunks shrink as the input runs out and the workers finish together: otherwise one worker
/// idles, on average, for half a chunk's verifications at the end of every file.
const TAIL_SHARE: usize = 4;
/// Mapped input is released behind the writer in steps of at least this many bytes.
const RELEASE_STRIDE: u64 = 2 << 20;
/// The smallest such share, in bytes: a few records.
const MIN_TAIL_CHUNK_BYTES: usize = 4 << 10;

/// A piece of the input holding whole lines.
pub struct Chunk<'a> {
    /// 0-based position of the chunk in the input.
    pub index: u64,
    /// 1-based number of the chunk's first line.
    pub first_line: u64,
    /// Byte offset of the chunk in the input.
    pub offset: u64,
    /// The lines, each ending in `\n` except perhaps the input's last.
    pub data: Cow<'a, [u8]>,
}

/// Where evidence comes from.
pub enum Input {
    /// A regular file, mapped (`None` when it is empty: an empty map is not portable).
    File(Option<Mmap>),
    /// Standard input, streamed.
    Stdin,
}

impl Input {
    /// Opens `path`, or stdin for `-`.
    pub fn open(path: &Path) -> io::Result<Input> {
        if path == Path::new("-") {
            return Ok(Input::Stdin);
        }
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(Input::File(None));
        }
        // SAFETY: the map is read-only and lives while `Input` does. Its soundness rests on no
        // one truncating or rewriting the file during the run (then reads could fault or see
        // changed bytes); that is the documented contract of `verify --input FILE`, and stdin
        // is there for inputs that may change.
        let map = unsafe { Mmap::map(&file)? };
        Ok(Input::File(Some(map)))
    }

    /// The input's size in bytes when known (files).
    pub fn len(&self) -> Option<u64> {
        match self {
            Input::File(map) => Some(map.as_ref().map_or(0, |m| m.len() as u64)),
            Input::Stdin => None,
        }
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Drops the mapped pages of bytes `from..to` from this process's memory (the page cache
    /// keeps them). Called by the ordered writer for input it has finished with, so resident
    /// memory does not grow with the input. Releases whole pages up to `to` rounded down and
    /// returns that offset: pass it back as the next `from`, so the page holding a chunk
    /// boundary is released with the next chunk. Pages go in strides of at least
    /// `RELEASE_STRIDE` (each call is a system call that interrupts the workers to flush their
    /// TLBs), and all at the end of the input. A no-op for stdin.
    pub fn release(&self, from: u64, to: u64) -> u64 {
        let Input::File(Some(map)) = self else {
            return from;
        };
        const PAGE: u64 = 4096;
        let len = map.len() as u64;
        let start = (from / PAGE) * PAGE;
        let end = (to.min(len) / PAGE) * PAGE;
        if end <= start || (end - start < RELEASE_STRIDE && to < len) {
            return from;
        }
        // SAFETY: the map is a read-only, file-backed shared mapping. MADV_DONTNEED only drops
        // this process's page-table entries; a later read faults the same bytes back in from the
        // file (the contract of `open`: the file is not changed during the run). It cannot zero
        // memory as it would for an anonymous mapping, and the writer calls it only for chunks
        // whose records are all judged, so no worker is reading those bytes.
        let _ = unsafe {
            map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                start as usize,
                (end - start) as usize,
            )
        };
        end
    }

    /// Calls `each` with every chunk in order until it returns `false`.
    /// `max_record_bytes` bounds what is kept of one line read from stdin; `workers` (the threads
    /// the chunks are shared among) sets how chunks shrink near the end of a file.
    pub fn chunks<'a>(
        &'a self,
        max_record_bytes: usize,
        workers: usize,
        mut each: impl FnMut(Chunk<'a>) -> bool,
    ) -> io::Result<()> {
        match self {
            Input::File(None) => Ok(()),
            Input::File(Some(map)) => {
                split_mapped(map, workers, &mut each);
                Ok(())
            }
            Input::Stdin => split_stream(io::stdin().lock(), max_record_bytes, &mut each),
        }
    }
}

fn split_mapped<'a>(data: &'a [u8], workers: usize, each: &mut impl FnMut(Chunk<'a>) -> bool) {
    let tail_share = TAIL_SHARE.saturating_mul(workers.max(1));
    let mut start = 0;
    let mut index = 0;
    let mut first_line = 1;
    while start < data.len() {
        let left = data.len() - start;
        let max_bytes = CHUNK_BYTES.min((left / tail_share).max(MIN_TAIL_CHUNK_BYTES));
        let mut end = start;
        let mut lines = 0;
        while end < data.len() && lines < CHUNK_LINES && end - start < max_bytes {
            end = match memchr::memchr(b'\n', &data[end..]) {
                Some(at) => end + at + 1,
                None => data.len(),
            };
            lines += 1;
        }
        let chunk = Chunk {
            index,
            first_line,
            offset: start as u64,
            data: Cow::Borrowed(&data[start..end]),
        };
        if !each(chunk) {
            return;
        }
        index += 1;
        first_line += lines as u64;
        start = end;
    }
}

/// Streams `reader` into owned chunks.
pub fn split_stream<'a>(
    mut reader: impl Read,
    max_record_bytes: usize,
    each: &mut impl FnMut(Chunk<'a>) -> bool,
) -> io::Result<()> {
    // Keep at most max + 2 bytes of a line: even after a trailing '\r' is dropped the cut line
    // is still over the limit, so it is judged too large rather than mistaken for a short one.
    let keep = max_record_bytes.saturating_add(2);
    let mut block = vec![0u8; 1 << 20];
    let mut pending: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    let mut lines = 0usize;
    let mut line_len = 0usize;
    let mut index = 0u64;
    let mut first_line = 1u64;
    let mut offset = 0u64;
    let mut emit = |pending: &mut Vec<u8>, lines: &mut usize| -> bool {
        let data = std::mem::replace(pending, Vec::with_capacity(CHUNK_BYTES));
        let chunk = Chunk {
            index,
            first_line,
            offset,
            data: Cow::Owned(data),
        };
        offset += chunk.data.len() as u64;
        index += 1;
        first_line += *lines as u64;
        *lines = 0;
        each(chunk)
    };
    loop {
        let n = match reader.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        let mut pos = 0;
        while pos < n {
            let (segment, ends_line) = match memchr::memchr(b'\n', &block[pos..n]) {
                Some(at) => (&block[pos..pos + at], true),
                None => (&block[pos..n], false),
            };
            pos += segment.len() + usize::from(ends_line);
            let take = segment.len().min(keep - line_len);
            pending.extend_from_slice(&segment[..take]);
            line_len += take;
            if ends_line {
                pending.push(b'\n');
                line_len = 0;
                lines += 1;
                if (lines >= CHUNK_LINES || pending.len() >= CHUNK_BYTES)
                    && !emit(&mut pending, &mut lines)
                {
                    return Ok(());
                }
            }
        }
    }
    if !pending.is_empty() {
        // The last line has no newline; it still counts as a line.
        lines += 1;
        emit(&mut pending, &mut lines);
    }
    Ok(())
}

/// A UTF-8 byte order mark, which some Windows tools put at the start of a text file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The non-empty lines of a chunk with their 1-based numbers, a trailing `\r` dropped, and a
/// byte order mark at the very start of the input dropped (RFC 8259 lets a JSON reader ignore
/// one; left in, it would turn the first record into a bare token that is not a JWT).
pub fn lines<'c>(chunk: &'c Chunk<'_>) -> impl Iterator<Item = (u64, &'c [u8])> + 'c {
    let data: &'c [u8] = &chunk.data;
    let mut start = if chunk.offset == 0 && data.starts_with(BOM) {
        BOM.len()
    } else {
        0
    };
    let mut number = chunk.first_line;
    std::iter::from_fn(move || loop {
        let rest = data.get(start..).filter(|rest| !rest.is_empty())?;
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = rest.get(..len)?;
        let this = number;
        number += 1;
        start += len + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            return Some((this, line));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_stream(input: &[u8], max: usize) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        split_stream(input, max, &mut |chunk: Chunk<'_>| {
            for (n, line) in lines(&chunk) {
                out.push((n, line.to_vec()));
            }
            true
        })
        .unwrap();
        out
    }

    fn collect_mapped(input: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        split_mapped(input, 2, &mut |chunk: Chunk<'_>| {
            for (n, line) in lines(&chunk) {
                out.push((n, line.to_vec()));
            }
            true
        });
        out
    }

    #[test]
    fn numbers_lines_and_skips_empty_ones() {
        let input = b"a\r\n\nb\n\r\nc";
        let want = vec![(1, b"a".to_vec()), (3, b"b".to_vec()), (5, b"c".to_vec())];
        assert_eq!(collect_stream(input, 100), want);
        assert_eq!(collect_mapped(input), want);
    }

    #[test]
    fn a_byte_order_mark_is_dropped_at_the_start_of_the_input_only() {
        let input = b"\xEF\xBB\xBFa\n\xEF\xBB\xBFb\n";
        let want = vec![(1, b"a".to_vec()), (2, b"\xEF\xBB\xBFb".to_vec())];
        assert_eq!(collect_stream(input, 100), want);
        assert_eq!(collect_mapped(input), want);
        // A mark alone on the first line leaves it empty: no record.
        assert_eq!(
            collect_mapped(b"\xEF\xBB\xBF\r\nb"),
            vec![(2, b"b".to_vec())]
        );
    }

    #[test]
    fn chunk_boundaries_keep_line_numbers() {
        let input: Vec<u8> = (0..5000)
            .flat_map(|i| format!("l{i}\n").into_bytes())
            .collect();
        let mapped = collect_mapped(&input);
        assert_eq!(mapped.len(), 5000);
        assert_eq!(mapped[4999], (5000, b"l4999".to_vec()));
        assert_eq!(collect_stream(&input, 100), mapped);
    }

    #[test]
    fn chunks_shrink_near_the_end_of_a_file() {
        let input: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i:0>100}\n").into_bytes())
            .collect();
        for workers in [1, 2, 8] {
            let mut sizes = Vec::new();
            let mut numbers = Vec::new();
            split_mapped(&input, workers, &mut |chunk: Chunk<'_>| {
                sizes.push(chunk.data.len());
                numbers.extend(lines(&chunk).map(|(n, _)| n));
                true
            });
            assert_eq!(
                numbers,
                (1..=20_000).collect::<Vec<u64>>(),
                "{workers} workers"
            );
            assert_eq!(
                sizes[0],
                CHUNK_LINES * 101,
                "full chunks while far from the end"
            );
            let last = sizes.len() - 1;
            assert!(sizes[last - 1] <= MIN_TAIL_CHUNK_BYTES + 101, "{sizes:?}");
            assert!(sizes.windows(2).all(|w| w[1] <= w[0]), "{sizes:?}");
        }
    }

    #[test]
    fn stream_cuts_long_lines_but_keeps_them_over_the_limit() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\nshort\n");
        let got = collect_stream(&input, 10);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1.len(), 12);
        assert_eq!(got[1], (2, b"short".to_vec()));
        // Exactly at the limit, with CRLF, is kept whole.
        let got = collect_stream(b"0123456789\r\n", 10);
        assert_eq!(got[0].1, b"0123456789");
    }
}
