//! When attestations start, and how their latency is measured.
//!
//! Open loop (`--rate R`): attempt `i` is *scheduled* at `i / R` seconds after the start,
//! whatever happened to the earlier ones, and its latency runs from that scheduled time to its
//! end. A server that stalls therefore shows its stall in every attempt scheduled during it —
//! not only in the few that were in flight, as a client that waits for each answer before
//! sending the next (and so sends less when the server is slow) would report: that is
//! coordinated omission. When `max_in_flight` attempts are outstanding, the next one starts
//! late, and the wait counts in its latency.
//!
//! Closed loop (`--concurrency C`): C workers, each starting its next attempt when the last
//! one ends; latency is from the actual start (there is no schedule to lag behind).
//!
//! Attempts scheduled (open) or started (closed) within the first `warmup` are marked as
//! warmup: they load the server but are not counted. `count` counts the attempts after the
//! warmup; `duration` is the time after it. A run ends at whichever comes first, and every
//! attempt ends within `timeout`, so a run is bounded.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::outcome::{Failure, Outcome};

/// How attempts arrive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// A fixed arrival schedule of `rate` attempts a second.
    Open {
        /// Attempts a second.
        rate: f64,
    },
    /// `concurrency` workers, each one attempt at a time.
    Closed {
        /// Workers.
        concurrency: usize,
    },
}

/// A run's shape.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Open or closed loop.
    pub mode: Mode,
    /// Attempts after the warmup (`None`: until `duration`).
    pub count: Option<u64>,
    /// Time after the warmup (`None`: until `count`).
    pub duration: Option<Duration>,
    /// The first part of the run, not counted.
    pub warmup: Duration,
    /// At most this many attempts outstanding (open loop).
    pub max_in_flight: usize,
    /// An attempt that has not ended after this is a `client:timeout` failure.
    pub timeout: Duration,
}

impl Plan {
    /// Attempts the run will make in all (warmup included), when that is known in advance.
    pub fn planned_attempts(&self) -> Option<u64> {
        match self.mode {
            Mode::Open { rate } => {
                let warmup = (self.warmup.as_secs_f64() * rate).ceil() as u64;
                let by_time = self
                    .duration
                    .map(|d| ((self.warmup + d).as_secs_f64() * rate).ceil() as u64);
                match (self.count, by_time) {
                    (Some(count), Some(t)) => Some((warmup + count).min(t)),
                    (Some(count), None) => Some(warmup + count),
                    (None, t) => t,
                }
            }
            Mode::Closed { .. } => match (self.count, self.duration, self.warmup.is_zero()) {
                (Some(count), None, true) => Some(count),
                _ => None,
            },
        }
    }
}

/// One attempt's times (from the run's start) and outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its number in the run, from 0.
    pub seq: u64,
    /// Whether it belongs to the warmup.
    pub warmup: bool,
    /// When it was due (open loop), or when it started (closed loop).
    pub scheduled: Duration,
    /// When it started.
    pub started: Duration,
    /// When it ended.
    pub finished: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl Record {
    /// Its latency: from its scheduled start to its end.
    pub fn latency(&self) -> Duration {
        self.finished.saturating_sub(self.scheduled)
    }
}

/// Makes attempt number `seq`.
pub trait Attempt: Send + Sync + 'static {
    /// The attempt.
    fn attempt(&self, seq: u64) -> impl Future<Output = Outcome> + Send;
}

async fn timed<A: Attempt>(attempt: &A, seq: u64, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, attempt.attempt(seq)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(Failure::client(
            "timeout",
            format!("no result within {}s", timeout.as_secs_f64()),
        )),
    }
}

/// Runs `plan`, sending one record per attempt to `records` (in order of completion).
pub async fn run<A: Attempt>(plan: &Plan, attempt: Arc<A>, records: mpsc::Sender<Record>) {
    let start = Instant::now();
    match plan.mode {
        Mode::Open { rate } => open_loop(plan, rate, start, attempt, records).await,
        Mode::Closed { concurrency } => {
            closed_loop(plan, concurrency, start, attempt, records).await
        }
    }
}

async fn open_loop<A: Attempt>(
    plan: &Plan,
    rate: f64,
    start: Instant,
    attempt: Arc<A>,
    records: mpsc::Sender<Record>,
) {
    let limit = plan.max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(limit));
    let end = plan.duration.map(|d| plan.warmup + d);
    let mut measured = 0u64;
    for seq in 0u64.. {
        let scheduled = Duration::from_secs_f64(seq as f64 / rate);
        let warmup = scheduled < plan.warmup;
        if end.is_some_and(|end| scheduled >= end)
            || (!warmup && plan.count.is_some_and(|count| measured >= count))
        {
            break;
        }
        measured += u64::from(!warmup);
        tokio::time::sleep_until(start + scheduled).await;
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break; // never closed
        };
        let started = start.elapsed();
        let attempt = attempt.clone();
        let records = records.clone();
        let timeout = plan.timeout;
        tokio::spawn(async move {
            let outcome = timed(&*attempt, seq, timeout).await;
            let finished = start.elapsed();
            drop(slot);
            let record = Record {
                seq,
                warmup,
                scheduled,
                started,
                finished,
                outcome,
            };
            let _ = records.send(record).await;
        });
    }
    // Every slot back means every attempt has ended.
    let _ = slots.acquire_many(limit as u32).await;
}

async fn closed_loop<A: Attempt>(
    plan: &Plan,
    concurrency: usize,
    start: Instant,
    attempt: Arc<A>,
    records: mpsc::Sender<Record>,
) {
    let next = Arc::new(AtomicU64::new(0));
    let measured = Arc::new(AtomicU64::new(0));
    let end = plan.duration.map(|d| plan.warmup + d);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (next, measured) = (next.clone(), measured.clone());
        let (attempt, records, plan) = (attempt.clone(), records.clone(), plan.clone());
        workers.spawn(async move {
            loop {
                let started = start.elapsed();
                let warmup = started < plan.warmup;
                if end.is_some_and(|end| started >= end) {
                    break;
                }
                if !warmup {
                    let count = plan.count.unwrap_or(u64::MAX);
                    let taken = measured.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        (n < count).then_some(n + 1)
                    });
                    if taken.is_err() {
                        break;
                    }
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let outcome = timed(&*attempt, seq, plan.timeout).await;
                let record = Record {
                    seq,
                    warmup,
                    scheduled: started,
                    started,
                    finished: start.elapsed(),
                    outcome,
                };
                if records.send(record).await.is_err() {
                    break;
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers nothing until `until` after the start, then each request after
    /// `service`.
    struct Stalling {
        start: Instant,
        until: Duration,
        service: Duration,
    }

    impl Attempt for Stalling {
        async fn attempt(&self, _seq: u64) -> Outcome {
            let now = self.start.elapsed();
            tokio::time::sleep(self.until.saturating_sub(now) + self.service).await;
            Outcome::Attested {
                agent_id: "spiffe://example.org/spire/agent/x".into(),
                reattestable: true,
            }
        }
    }

    async fn collect(plan: Plan, server: Stalling) -> Vec<Record> {
        let (tx, mut rx) = mpsc::channel(16);
        let running = tokio::spawn({
            let server = Arc::new(server);
            async move { run(&plan, server, tx).await }
        });
        let mut out = Vec::new();
        while let Some(record) = rx.recv().await {
            out.push(record);
        }
        running.await.unwrap();
        out.sort_by_key(|r| r.seq);
        out
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_latency_runs_from_the_scheduled_start_through_a_stall() {
        let plan = Plan {
            mode: Mode::Open { rate: 100.0 },
            count: Some(200),
            duration: None,
            warmup: Duration::ZERO,
            max_in_flight: 1000,
            timeout: Duration::from_secs(30),
        };
        let server = Stalling {
            start: Instant::now(),
            until: ms(1000),
            service: ms(5),
        };
        let records = collect(plan, server).await;
        assert_eq!(records.len(), 200);
        for r in &records {
            assert_eq!(r.scheduled, ms(10 * r.seq), "{r:?}");
            assert_eq!(r.started, r.scheduled, "{r:?}");
            // Scheduled during the stall: it ends 5 ms after the stall; later: 5 ms after it starts.
            let want = if r.scheduled < ms(1000) {
                ms(1005) - r.scheduled
            } else {
                ms(5)
            };
            assert_eq!(r.latency(), want, "{r:?}");
        }
        // The first attempt waited the whole stall: a client that waited for each answer
        // before sending on would have seen one slow attempt, not a hundred.
        assert_eq!(records[0].latency(), ms(1005));
        assert_eq!(records.iter().filter(|r| r.latency() > ms(500)).count(), 51);
        // due 0..=500 ms
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_in_flight_window_delays_starts_and_the_wait_counts() {
        let plan = Plan {
            mode: Mode::Open { rate: 100.0 },
            count: Some(30),
            duration: None,
            warmup: Duration::ZERO,
            max_in_flight: 10,
            timeout: Duration::from_secs(30),
        };
        let server = Stalling {
            start: Instant::now(),
            until: ms(1000),
            service: ms(5),
        };
        let records = collect(plan, server).await;
        assert_eq!(records.len(), 30);
        // The first ten hold every slot until 1005 ms; number 10 (due at 100 ms) starts then.
        assert_eq!(records[10].scheduled, ms(100));
        assert_eq!(records[10].started, ms(1005));
        assert_eq!(records[10].latency(), ms(1010) - ms(100));
    }

    #[tokio::test(start_paused = true)]
    async fn warmup_and_duration_bound_the_open_loop() {
        let plan = Plan {
            mode: Mode::Open { rate: 50.0 },
            count: None,
            duration: Some(ms(1000)),
            warmup: ms(200),
            max_in_flight: 100,
            timeout: ms(50),
        };
        assert_eq!(plan.planned_attempts(), Some(60));
        let server = Stalling {
            start: Instant::now(),
            until: ms(500),
            service: ms(1),
        };
        let records = collect(plan, server).await;
        assert_eq!(records.len(), 60);
        assert_eq!(records.iter().filter(|r| r.warmup).count(), 10);
        // Those scheduled before 449 ms exceed the 50 ms timeout during the stall.
        let timeouts: Vec<u64> = records
            .iter()
            .filter(|r| matches!(&r.outcome, Outcome::Failed(f) if f.code == "client:timeout"))
            .map(|r| r.seq)
            .collect();
        assert_eq!(timeouts, (0..23).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_latency_runs_from_the_actual_start() {
        let plan = Plan {
            mode: Mode::Closed { concurrency: 4 },
            count: Some(40),
            duration: None,
            warmup: Duration::ZERO,
            max_in_flight: 4,
            timeout: Duration::from_secs(30),
        };
        assert_eq!(plan.planned_attempts(), Some(40));
        let server = Stalling {
            start: Instant::now(),
            until: ms(1000),
            service: ms(10),
        };
        let records = collect(plan, server).await;
        assert_eq!(records.len(), 40);
        // Four attempts wait out the stall; then each takes 10 ms.
        assert_eq!(
            records.iter().filter(|r| r.latency() == ms(1010)).count(),
            4
        );
        assert_eq!(records.iter().filter(|r| r.latency() == ms(10)).count(), 36);
        assert!(records.iter().all(|r| r.scheduled == r.started));
    }
}
