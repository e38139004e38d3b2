//! The pipeline: chunks of input → rayon workers → one ordered writer → the sink.
//!
//! ```text
//! reader (this thread) ──chunk──▶ workers (rayon) ──ChunkResult──▶ writer (one thread) ──▶ sink
//!                    ▲                               bounded channel        │
//!                    └──────────── slots (result buffers) back ─────────────┘
//! ```
//!
//! Workers judge records independently and serialize each result line as if its single-use key
//! were fresh. The writer reorders chunks by index and walks records in input order, consulting
//! the replay store once for all the chunks next in order that have arrived (one Redis round
//! trip for the batch): the first attesting record of a key wins and every later one has its line
//! replaced by a `replay/replayed` rejection (the line prefix is reused as is). Deciding replays
//! in one place, in input order, is what makes output byte-identical at any thread count; a map
//! insert per record costs far less than one signature verify.
//!
//! Memory is bounded: the reader may run at most `IN_FLIGHT_PER_THREAD × threads` chunks ahead
//! of the writer (`IN_FLIGHT_PER_THREAD_REMOTE` with Redis; it takes a slot per chunk, the
//! writer returns one per chunk written). A slot is a set of result buffers: a worker fills the
//! chunk's results into them and the writer hands them back emptied, so a run allocates them
//! once rather than per chunk (freeing ~300 KiB in the writer that a worker allocated costs page
//! faults and `munmap`s as well as the allocator's cross-thread path).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Rejection;
use crate::input::{lines, Chunk, Input};
use crate::namespaces::{self, AgentIds, Attestor, Collision, PathDigest};
use crate::outcomes::Outcomes;
use crate::replay::{describe_key, Claim, Outcome, SingleUse};
use crate::shard::Shard;
use crate::sink;
use crate::verifier::{Scratch, Source, Verdict, Verifier};

/// Records a worker stages before checking their signatures in a row (see [`Verifier::stage`]).
const BATCH_RECORDS: usize = 16;
/// Chunks allowed in flight per worker thread.
const IN_FLIGHT_PER_THREAD: usize = 4;
/// The same with single use in Redis: while the writer waits for a round trip, the workers need
/// room to go on (a chunk in flight is ~256 input lines and their results, a few hundred KiB).
const IN_FLIGHT_PER_THREAD_REMOTE: usize = 16;

/// The number of cores, for `--threads` defaults.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How a run is carried out.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Worker threads.
    pub threads: usize,
    /// Evaluation time, Unix seconds.
    pub now: i64,
    /// Results already in the output (`--resume`): judged again, not written again.
    pub skip_records: u64,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// The records this process takes (`--shard`); the others get no result here.
    pub shard: Shard,
    /// The file holding the `skip_records` kept lines (`--resume`): each must be byte for byte
    /// the line this run gives for its record, or the run stops before writing anything.
    pub kept_output: Option<PathBuf>,
    /// Set (by a signal handler) to stop taking records: those in flight are finished and
    /// written, and the run returns with [`RunStats::interrupted`] set.
    pub stop: Option<Arc<AtomicBool>>,
    /// Reject a record whose agent ID another attestor produced earlier in the run
    /// (`policy/agent_id_collision`) instead of only counting it (see [`crate::namespaces`]).
    pub strict_namespaces: bool,
}

/// Records at the start of the input looked at to tell whether it is evidence at all.
pub const LEADING_RECORDS: u64 = 8;

/// Counts for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStats {
    /// Records judged.
    pub records: u64,
    /// Records attested.
    pub attested: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejections by code.
    pub by_code: BTreeMap<&'static str, u64>,
    /// Outcomes by record type, JWT issuer, key and code.
    pub outcomes: Outcomes,
    /// How many of the first [`LEADING_RECORDS`] records could not be read as records or
    /// tokens at all (`input/malformed_record`, `decode/malformed_token`): when that is all of
    /// them, the input is likely not evidence (a text file, a JSON array).
    pub leading_unreadable: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The run stopped early at [`RunOptions::stop`]: the counts are those of the records
    /// written.
    pub interrupted: bool,
    /// Records whose agent ID another attestor produced earlier in the run.
    pub agent_id_collisions: u64,
    /// The first few of them.
    pub first_collisions: Vec<Collision>,
}

/// How many collisions [`RunStats::first_collisions`] keeps.
const COLLISIONS_KEPT: usize = 10;

impl RunStats {
    /// True when every one of the first records (up to [`LEADING_RECORDS`]) could not be read
    /// as a record or token: the input is likely not JSON-lines evidence.
    pub fn looks_unreadable(&self) -> bool {
        self.records > 0 && self.leading_unreadable == self.records.min(LEADING_RECORDS)
    }
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum RunError {
    /// Reading the input failed.
    Input(io::Error),
    /// Writing the output failed.
    Output(io::Error),
    /// A kept line (`--resume`) is not the line this run gives for its record.
    KeptDiffers {
        /// The 1-based line of the output.
        output_line: u64,
        /// The record's input line.
        input_line: u64,
    },
}

impl From<io::Error> for RunError {
    fn from(err: io::Error) -> RunError {
        RunError::Output(err)
    }
}

struct RecordMeta {
    line: u64,
    span: Range<usize>,
    prefix_end: usize,
    verdict: Verdict,
    key: Range<usize>,
    /// The attestor and agent path digest of an attested record whose path another attestor
    /// could also produce (see [`crate::namespaces`]).
    agent: Option<(Attestor, PathDigest)>,
    source: Source,
    /// Where the unknown `kid` the record named is in the chunk's `keys` (empty when none).
    label: Range<usize>,
}

struct ChunkResult {
    index: u64,
    offset: u64,
    input_bytes: usize,
    out: ResultBuffers,
}

/// Where a worker puts a chunk's results: the lines, each record's place among them, and the
/// single-use keys of the records that attested (and the unknown `kid`s records named).
/// Recycled from chunk to chunk.
#[derive(Default)]
struct ResultBuffers {
    buf: Vec<u8>,
    records: Vec<RecordMeta>,
    keys: String,
}

impl ResultBuffers {
    fn clear(&mut self) {
        self.buf.clear();
        self.records.clear();
        self.keys.clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn judge_chunk(
    verifier: &Verifier,
    chunk: &Chunk<'_>,
    options: &RunOptions,
    mut out: ResultBuffers,
) -> ChunkResult {
    SCRATCH.with(|scratch| {
        let scratch = &mut *scratch.borrow_mut();
        out.clear();
        out.buf.reserve(chunk.data.len() + chunk.data.len() / 2);
        let ResultBuffers { buf, records, keys } = &mut out;
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        let mut signatures = Vec::new();
        let mut taken = lines(chunk).filter(|(line, _)| options.shard.takes(*line));
        let namespaces = verifier.namespaces();
        loop {
            signatures.clear();
            batch.extend(
                taken
                    .by_ref()
                    .take(BATCH_RECORDS)
                    .map(|(line, text)| (line, verifier.stage(text, scratch, &mut signatures))),
            );
            if batch.is_empty() {
                break;
            }
            for (_, staged) in &mut batch {
                verifier.check_signature(staged, &signatures);
            }
            for (line, staged) in batch.drain(..) {
                let start = buf.len();
                let judged = verifier.finish(line, staged, options.now, scratch, buf);
                let key_start = keys.len();
                if judged.verdict.claims().is_some() {
                    keys.push_str(&scratch.replay_key);
                }
                let key_end = keys.len();
                if judged.source.unknown_kid {
                    keys.push_str(scratch.unknown_kid());
                }
                let agent = match judged.verdict {
                    Verdict::Attested(_) if !namespaces.disjoint() => {
                        let path = scratch.agent_path();
                        namespaces
                            .shared(judged.attestor, path)
                            .then(|| (judged.attestor, namespaces::digest(path)))
                    }
                    _ => None,
                };
                records.push(RecordMeta {
                    line,
                    span: start..buf.len(),
                    prefix_end: judged.prefix_end,
                    verdict: judged.verdict,
                    key: key_start..key_end,
                    agent,
                    source: judged.source,
                    label: key_end..keys.len(),
                });
            }
        }
        ChunkResult {
            index: chunk.index,
            offset: chunk.offset,
            input_bytes: chunk.data.len(),
            out,
        }
    })
}

/// Runs the pipeline over `input`, writing results to `output`, on a pool of
/// `options.threads` workers built for the run.
pub fn run(
    verifier: &Verifier,
    input: &Input,
    output: &mut (dyn Write + Send),
    store: &mut SingleUse,
    options: &RunOptions,
) -> Result<RunStats, RunError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .thread_name(|i| format!("fleet-attest-verify-{i}"))
        .build()
        .map_err(|err| RunError::Input(io::Error::other(err)))?;
    run_in(&pool, verifier, input, output, store, options)
}

/// [`run`] on the workers of `pool` (their number, not `options.threads`, sizes the run). For
/// callers that run many inputs: the threads, and the scratch buffers each keeps between runs,
/// are made once.
pub fn run_in(
    pool: &rayon::ThreadPool,
    verifier: &Verifier,
    input: &Input,
    output: &mut (dyn Write + Send),
    store: &mut SingleUse,
    options: &RunOptions,
) -> Result<RunStats, RunError> {
    let started = Instant::now();
    let threads = pool.current_num_threads().max(1);
    let progress = progress_bar(options.progress, input.len());
    let per_thread = match store {
        SingleUse::Memory(_) => IN_FLIGHT_PER_THREAD,
        SingleUse::Redis(_) => IN_FLIGHT_PER_THREAD_REMOTE,
    };
    let in_flight = threads * per_thread;
    let (result_tx, result_rx) = bounded::<ChunkResult>(in_flight);
    let (slot_tx, slot_rx) = bounded::<ResultBuffers>(in_flight);
    for _ in 0..in_flight {
        // Cannot fail: the channel has room for them all and its receiver is alive.
        let _ = slot_tx.send(ResultBuffers::default());
    }
    let max_record_bytes = verifier.limits().max_record_bytes;
    let kept = match (&options.kept_output, options.skip_records) {
        (Some(path), 1..) => Some(KeptLines::open(path).map_err(RunError::Output)?),
        _ => None,
    };
    let stopped = || {
        options
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::SeqCst))
    };

    let (read_result, write_result) = std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("fleet-attest-writer".into())
            .spawn_scoped(scope, || {
                // Own the slot sender: if this thread stops early (an output error), dropping
                // it is what tells the reader, waiting for a free slot, to stop too.
                let slot_tx = slot_tx;
                let mut writer = OrderedWriter {
                    // No BufWriter: chunks arrive as large runs of whole lines, written as they are.
                    output,
                    store,
                    now: options.now,
                    skip: options.skip_records,
                    kept,
                    namespaces: verifier.namespaces(),
                    strict_namespaces: options.strict_namespaces,
                    agent_ids: AgentIds::default(),
                    collided: Vec::new(),
                    stats: RunStats::default(),
                    patched: Vec::new(),
                    outcomes: Vec::new(),
                };
                let mut waiting: HashMap<u64, ChunkResult> = HashMap::new();
                let mut next = 0u64;
                let mut released = 0u64;
                let mut batch: Vec<ChunkResult> = Vec::new();
                let mut sized = false;
                while let Ok(result) = result_rx.recv() {
                    waiting.insert(result.index, result);
                    // Everything that has arrived meanwhile joins in, so that the chunks next in
                    // order go to the store together: one round trip for all of them when
                    // single use lives in Redis (a slow store gets larger batches, not stalls).
                    while let Ok(result) = result_rx.try_recv() {
                        waiting.insert(result.index, result);
                    }
                    while let Some(chunk) = waiting.remove(&(next + batch.len() as u64)) {
                        batch.push(chunk);
                    }
                    if batch.is_empty() {
                        continue;
                    }
                    if !sized {
                        sized = true;
                        writer.size_store(&batch, input.len());
                    }
                    writer.write_chunks(&batch)?;
                    for chunk in batch.drain(..) {
                        progress.inc(chunk.input_bytes as u64);
                        let end = chunk.offset + chunk.input_bytes as u64;
                        released = input.release(released, end);
                        next += 1;
                        // Never blocks: there are no more buffers than the channel holds.
                        let _ = slot_tx.send(chunk.out);
                    }
                    if !progress.is_hidden() {
                        progress.set_message(progress_message(
                            writer.stats.records,
                            progress.position(),
                            input.len(),
                            started.elapsed(),
                        ));
                    }
                }
                writer.output.flush().map_err(RunError::Output)?;
                Ok::<RunStats, RunError>(writer.stats)
            });

        let read_result = pool.in_place_scope(|workers| {
            let result = input.chunks(max_record_bytes, threads, |chunk| {
                if stopped() {
                    return false;
                }
                let Ok(out) = slot_rx.recv() else {
                    return false; // the writer stopped: stop reading
                };
                if stopped() {
                    return false; // the chunk is not judged: its records get no result
                }
                let tx = result_tx.clone();
                workers.spawn(move |_| {
                    let _ = tx.send(judge_chunk(verifier, &chunk, options, out));
                });
                true
            });
            drop(result_tx);
            result
        });
        let write_result = match writer {
            Ok(writer) => writer.join().unwrap_or_else(|_| {
                Err(RunError::Output(io::Error::other("writer thread panicked")))
            }),
            Err(err) => Err(RunError::Output(err)),
        };
        (read_result, write_result)
    });
    match &write_result {
        // The last frame: the whole input, and what the run did.
        Ok(stats) if !progress.is_hidden() => {
            if let Some(total) = input.len() {
                progress.set_position(total);
            }
            progress.finish_with_message(done_message(stats.records, started.elapsed()));
        }
        _ => progress.finish_and_clear(),
    }
    let mut stats = write_result?;
    read_result.map_err(RunError::Input)?;
    stats.elapsed = started.elapsed();
    stats.interrupted = stopped();
    Ok(stats)
}

struct OrderedWriter<'a, W: Write> {
    output: W,
    store: &'a mut SingleUse,
    now: i64,
    skip: u64,
    /// The kept lines to compare the first `skip` lines with.
    kept: Option<KeptLines>,
    namespaces: &'a crate::namespaces::Namespaces,
    strict_namespaces: bool,
    /// Who produced each agent path that two attestors could produce.
    agent_ids: AgentIds,
    /// Per record of the batch being written, in order: the collision of its agent ID.
    collided: Vec<Option<Collision>>,
    stats: RunStats,
    /// Scratch for one replayed record's line.
    patched: Vec<u8>,
    /// The store's answers for a chunk's claims.
    outcomes: Vec<Outcome>,
}

impl<W: Write> OrderedWriter<'_, W> {
    /// Sizes the single-use store for the whole input from its first chunks: as many keys as
    /// they claimed per byte (a claim is an attested record with a single-use key), over the
    /// whole file. Nothing is reserved when they claimed none (single use off, say).
    fn size_store(&mut self, first: &[ChunkResult], input_bytes: Option<u64>) {
        let Some(total) = input_bytes else {
            return; // a stream: its length is unknown
        };
        let bytes: u64 = first.iter().map(|chunk| chunk.input_bytes as u64).sum();
        let claims = first
            .iter()
            .flat_map(|chunk| &chunk.out.records)
            .filter(|record| record.verdict.claims().is_some())
            .count() as u64;
        if bytes > 0 && claims > 0 {
            let estimate = u128::from(total) * u128::from(claims) / u128::from(bytes);
            self.store
                .reserve(usize::try_from(estimate).unwrap_or(usize::MAX));
        }
    }

    /// Writes chunks (consecutive, in order) line by line, replacing the lines of records whose
    /// single-use key was taken. Unchanged lines go out in contiguous runs of each chunk buffer.
    fn write_chunks(&mut self, chunks: &[ChunkResult]) -> Result<(), RunError> {
        // Agent IDs first, in input order: a record rejected for its ID claims no key.
        let mut collided = std::mem::take(&mut self.collided);
        collided.clear();
        for record in chunks.iter().flat_map(|chunk| &chunk.out.records) {
            let collision = record
                .agent
                .and_then(|(attestor, digest)| self.agent_ids.note(digest, attestor, record.line));
            if let Some(collision) = collision {
                self.stats.agent_id_collisions += 1;
                if self.stats.first_collisions.len() < COLLISIONS_KEPT {
                    self.stats.first_collisions.push(collision);
                }
            }
            collided.push(collision.filter(|_| self.strict_namespaces));
        }
        // One call to the store for the whole batch: for Redis, one pipelined round trip.
        let claims: Vec<Claim<'_>> = chunks
            .iter()
            .flat_map(|chunk| chunk.out.records.iter().map(move |record| (chunk, record)))
            .zip(&collided)
            .filter_map(
                |((chunk, record), refused)| match (record.verdict.claims(), refused) {
                    (Some(expires_at), None) => Some(Claim {
                        key: &chunk.out.keys[record.key.clone()],
                        expires_at,
                        line: record.line,
                    }),
                    _ => None,
                },
            )
            .collect();
        self.outcomes.clear();
        self.store.check(&claims, self.now, &mut self.outcomes);
        let outcomes = std::mem::take(&mut self.outcomes);
        // Outcomes are in claim order, so the chunks take theirs from one iterator in turn.
        let mut next_outcome = outcomes.iter();
        let mut next_refused = collided.iter();
        let result = chunks
            .iter()
            .try_for_each(|chunk| self.write_records(chunk, &mut next_outcome, &mut next_refused));
        self.outcomes = outcomes;
        self.collided = collided;
        result
    }

    /// Writes a chunk's lines in order, taking the store's outcome of each claim from `outcomes`
    /// and whether each record is refused for its agent ID from `refused`.
    fn write_records(
        &mut self,
        chunk: &ChunkResult,
        outcomes: &mut std::slice::Iter<'_, Outcome>,
        refused: &mut std::slice::Iter<'_, Option<Collision>>,
    ) -> Result<(), RunError> {
        let mut run_start: Option<usize> = None;
        for record in &chunk.out.records {
            self.stats.records += 1;
            let write = self.stats.records > self.skip;
            let refused = refused.next().copied().flatten();
            let outcome = match (record.verdict, refused) {
                (Verdict::Attested(_), Some(_)) => Outcome::Fresh, // claimed nothing
                // A missing outcome cannot happen (one per claim); never attest without one.
                (verdict, None) if verdict.claims().is_some() => {
                    *outcomes.next().unwrap_or(&Outcome::Unavailable)
                }
                _ => Outcome::Fresh,
            };
            let label = &chunk.out.keys[record.label.clone()];
            let rejection = match (record.verdict, outcome, refused) {
                (Verdict::Attested(_), _, Some(collision)) => Some(Rejection::AgentIdCollision {
                    attestor: self.namespaces.name(collision.again.0).to_owned(),
                    first: self.namespaces.name(collision.first.0).to_owned(),
                    first_line: collision.first.1,
                }),
                (Verdict::Rejected(code), _, _)
                | (Verdict::RejectedConsuming(code, _), Outcome::Fresh, _) => {
                    self.count_rejection(code, record.source, label);
                    None
                }
                (Verdict::RejectedConsuming(..), Outcome::Consumed(by), _) => {
                    Some(Rejection::Replayed {
                        what: describe_key(&chunk.out.keys[record.key.clone()]),
                        by,
                    })
                }
                (Verdict::RejectedConsuming(..), Outcome::Unavailable, _) => {
                    Some(Rejection::StoreUnavailable {
                        what: describe_key(&chunk.out.keys[record.key.clone()]),
                        store: self.store.address().to_owned(),
                    })
                }
                (Verdict::Attested(_), Outcome::Fresh, None) => {
                    self.stats.attested += 1;
                    self.stats.outcomes.count(record.source, label, None);
                    None
                }
                (Verdict::Attested(_), Outcome::Consumed(by), None) => Some(Rejection::Replayed {
                    what: describe_key(&chunk.out.keys[record.key.clone()]),
                    by,
                }),
                (Verdict::Attested(_), Outcome::Unavailable, None) => {
                    Some(Rejection::StoreUnavailable {
                        what: describe_key(&chunk.out.keys[record.key.clone()]),
                        store: self.store.address().to_owned(),
                    })
                }
            };
            let Some(rejection) = rejection else {
                if !write {
                    self.compare_kept(&chunk.out.buf[record.span.clone()], record.line)?;
                } else if run_start.is_none() {
                    run_start = Some(record.span.start);
                }
                continue;
            };
            self.count_rejection(rejection.code(), record.source, label);
            if !write {
                self.patched.clear();
                self.patched
                    .extend_from_slice(&chunk.out.buf[record.span.start..record.prefix_end]);
                sink::write_rejected(&mut self.patched, &rejection);
                let patched = std::mem::take(&mut self.patched);
                let compared = self.compare_kept(&patched, record.line);
                self.patched = patched;
                compared?;
            } else {
                if let Some(start) = run_start.take() {
                    self.output
                        .write_all(&chunk.out.buf[start..record.span.start])?;
                }
                self.patched.clear();
                self.patched
                    .extend_from_slice(&chunk.out.buf[record.span.start..record.prefix_end]);
                sink::write_rejected(&mut self.patched, &rejection);
                self.output.write_all(&self.patched)?;
            }
        }
        if let Some(start) = run_start {
            self.output.write_all(&chunk.out.buf[start..])?;
        }
        Ok(())
    }

    /// Checks that the next kept line is `line` (the result of input line `input_line`).
    fn compare_kept(&mut self, line: &[u8], input_line: u64) -> Result<(), RunError> {
        let Some(kept) = &mut self.kept else {
            return Ok(());
        };
        if kept.next_is(line)? {
            Ok(())
        } else {
            Err(RunError::KeptDiffers {
                output_line: self.stats.records,
                input_line,
            })
        }
    }

    fn count_rejection(&mut self, code: &'static str, source: Source, label: &str) {
        self.stats.rejected += 1;
        *self.stats.by_code.entry(code).or_default() += 1;
        self.stats.outcomes.count(source, label, Some(code));
        if self.stats.records <= LEADING_RECORDS
            && matches!(code, "malformed_record" | "malformed_token")
        {
            self.stats.leading_unreadable += 1;
        }
    }
}

fn progress_bar(enabled: bool, total: Option<u64>) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    // Until the first results are written there is nothing to measure a rate or an ETA by.
    bar.set_message("starting");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The kept lines of an output (`--resume`), read back one by one to compare.
struct KeptLines {
    reader: io::BufReader<File>,
    line: Vec<u8>,
}

impl KeptLines {
    fn open(path: &std::path::Path) -> io::Result<KeptLines> {
        Ok(KeptLines {
            reader: io::BufReader::with_capacity(1 << 20, File::open(path)?),
            line: Vec::new(),
        })
    }

    /// True when the next kept line is exactly `want` (newline included).
    fn next_is(&mut self, want: &[u8]) -> io::Result<bool> {
        self.line.clear();
        (&mut self.reader)
            .take(want.len() as u64 + 1)
            .read_until(b'\n', &mut self.line)?;
        Ok(self.line == want)
    }
}

/// `12,345 records, 36,000 records/s, ETA 4s`: the figures of a frame, the ETA from the bytes
/// written so far (`done` of `total`) at the rate since the start.
fn progress_message(records: u64, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut text = format!(
        "{}, {} records/s",
        crate::text::count(records, "record"),
        crate::text::thousands((records as f64 / secs).round() as u64)
    );
    if let Some(total) = total.filter(|_| done > 0) {
        let left = secs * total.saturating_sub(done) as f64 / done as f64;
        text.push_str(", ETA ");
        text.push_str(&duration_words(left));
    }
    text
}

/// The last frame's message: `200,000 records, 95,000 records/s, done in 2.1s`.
fn done_message(records: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!(
        "{}, {} records/s, done in {}",
        crate::text::count(records, "record"),
        crate::text::thousands((records as f64 / secs).round() as u64),
        if secs < 10.0 {
            format!("{secs:.1}s")
        } else {
            duration_words(secs)
        }
    )
}

/// `4s`, `2m05s`, `1h02m`.
fn duration_words(secs: f64) -> String {
    let secs = secs.round().max(0.0) as u64;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_frames_say_what_they_know() {
        let second = Duration::from_secs(1);
        assert_eq!(
            progress_message(1, 100, Some(400), second),
            "1 record, 1 records/s, ETA 3s"
        );
        assert_eq!(
            progress_message(36_000, 1, Some(1000), second),
            "36,000 records, 36,000 records/s, ETA 16m39s"
        );
        assert_eq!(
            progress_message(5, 0, Some(1000), second),
            "5 records, 5 records/s",
            "no ETA before any byte is done"
        );
        assert_eq!(
            progress_message(5, 10, None, second),
            "5 records, 5 records/s"
        );
        assert_eq!(
            done_message(200_000, Duration::from_millis(2100)),
            "200,000 records, 95,238 records/s, done in 2.1s"
        );
        assert_eq!(duration_words(7300.0), "2h01m");
    }
}
