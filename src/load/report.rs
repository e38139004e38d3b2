//! The numbers of a run, per attestor: attempts, successes, failures by gRPC code and message,
//! throughput, and latency percentiles from an HDR histogram; printed as a table and written
//! as the `--summary` JSON.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::fleet::Attestor;
use super::outcome::{Failure, Outcome};
use super::schedule::Record;

/// Latencies are recorded in microseconds, from 1 µs to an hour, to 3 significant digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Distinct failure messages kept per attestor; the rest are counted under one line.
const MAX_FAILURE_KINDS: usize = 64;

/// How an attested node's agent ID compares with an earlier run's (`--previous`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// The same agent ID as before.
    Kept,
    /// A different agent ID than before.
    Changed,
    /// Not attested in the earlier run.
    New,
    /// Attested in the earlier run, failed now.
    Lost,
}

/// One attestor's numbers.
#[derive(Clone, Debug)]
pub struct AttestorStats {
    /// Attempts after the warmup.
    pub attempts: u64,
    /// Of which attested.
    pub successes: u64,
    /// Failures by code and message.
    pub failures: BTreeMap<Failure, u64>,
    /// Latency of every counted attempt, successes and failures alike (µs).
    pub latency: Histogram<u64>,
    /// Successes the server marked reattestable.
    pub reattestable: u64,
    /// Successes against `--previous`: same agent ID, another one, first attested now.
    pub kept: u64,
    /// See `kept`.
    pub changed: u64,
    /// See `kept`.
    pub new: u64,
    /// Failures of nodes that `--previous` had attested.
    pub lost: u64,
}

impl Default for AttestorStats {
    fn default() -> Self {
        AttestorStats {
            attempts: 0,
            successes: 0,
            failures: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant bounds are valid"),
            reattestable: 0,
            kept: 0,
            changed: 0,
            new: 0,
            lost: 0,
        }
    }
}

impl AttestorStats {
    /// Failures in all.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Adds one counted attempt.
    pub fn add(&mut self, latency: Duration, outcome: &Outcome, continuity: Option<Continuity>) {
        self.attempts += 1;
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(us.clamp(1, MAX_LATENCY_US));
        match outcome {
            Outcome::Attested { reattestable, .. } => {
                self.successes += 1;
                self.reattestable += u64::from(*reattestable);
                match continuity {
                    Some(Continuity::Kept) => self.kept += 1,
                    Some(Continuity::Changed) => self.changed += 1,
                    Some(Continuity::New) => self.new += 1,
                    Some(Continuity::Lost) | None => {}
                }
            }
            Outcome::Failed(failure) => {
                self.lost += u64::from(continuity == Some(Continuity::Lost));
                let key = if self.failures.len() < MAX_FAILURE_KINDS
                    || self.failures.contains_key(failure)
                {
                    failure.clone()
                } else {
                    Failure {
                        code: "other".into(),
                        message: format!("(more than {MAX_FAILURE_KINDS} kinds of failure)"),
                    }
                };
                *self.failures.entry(key).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: &AttestorStats) {
        self.attempts += other.attempts;
        self.successes += other.successes;
        for (failure, n) in &other.failures {
            *self.failures.entry(failure.clone()).or_default() += n;
        }
        let _ = self.latency.add(&other.latency);
        self.reattestable += other.reattestable;
        self.kept += other.kept;
        self.changed += other.changed;
        self.new += other.new;
        self.lost += other.lost;
    }

    /// The latency at `quantile` (0..=1), in µs (0 without attempts).
    pub fn quantile_us(&self, quantile: f64) -> u64 {
        if self.latency.is_empty() {
            0
        } else {
            self.latency.value_at_quantile(quantile)
        }
    }
}

/// What a run was, for the report's heading and summary.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The server address.
    pub server: String,
    /// `open` or `closed`.
    pub mode: String,
    /// Attempts a second (open loop).
    pub rate: Option<f64>,
    /// Workers (closed loop).
    pub concurrency: Option<usize>,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Seconds of warmup.
    pub warmup: Duration,
    /// Unix time of the start, in µs.
    pub started_unix_us: u64,
}

/// The numbers of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Per attestor.
    pub by_attestor: BTreeMap<Attestor, AttestorStats>,
    /// Attempts during the warmup (not in the numbers above).
    pub warmup_attempts: u64,
    /// From the end of the warmup to the end of the last counted attempt.
    pub window: Duration,
    /// Whether `--previous` was given.
    pub compared: bool,
    /// CPU time (user + system) this process used over the run.
    pub cpu: Duration,
}

/// Builds a [`Report`] from records as they come.
pub struct Collector {
    report: Report,
    warmup: Duration,
    previous: Option<HashMap<String, String>>,
}

impl Collector {
    /// A collector for a run whose first `warmup` is not counted; `previous` maps node names
    /// to the agent IDs of an earlier run.
    pub fn new(warmup: Duration, previous: Option<HashMap<String, String>>) -> Collector {
        Collector {
            report: Report {
                by_attestor: BTreeMap::new(),
                warmup_attempts: 0,
                window: Duration::ZERO,
                compared: previous.is_some(),
                cpu: Duration::ZERO,
            },
            warmup,
            previous,
        }
    }

    /// Adds one record of node `node` (its attestor `attestor`); returns how its agent ID
    /// compares with `--previous`.
    pub fn add(&mut self, record: &Record, node: &str, attestor: Attestor) -> Option<Continuity> {
        if record.warmup {
            self.report.warmup_attempts += 1;
            return None;
        }
        let continuity =
            self.previous
                .as_ref()
                .map(|previous| match (previous.get(node), &record.outcome) {
                    (None, _) => Continuity::New,
                    (Some(before), Outcome::Attested { agent_id, .. }) if before == agent_id => {
                        Continuity::Kept
                    }
                    (Some(_), Outcome::Attested { .. }) => Continuity::Changed,
                    (Some(_), Outcome::Failed(_)) => Continuity::Lost,
                });
        self.report.by_attestor.entry(attestor).or_default().add(
            record.latency(),
            &record.outcome,
            continuity,
        );
        self.report.window = self
            .report
            .window
            .max(record.finished.saturating_sub(self.warmup));
        continuity
    }

    /// The report, with the CPU time the run used.
    pub fn finish(mut self, cpu: Duration) -> Report {
        self.report.cpu = cpu;
        self.report
    }
}

impl Report {
    /// Every attestor together.
    pub fn total(&self) -> AttestorStats {
        let mut total = AttestorStats::default();
        for stats in self.by_attestor.values() {
            total.merge(stats);
        }
        total
    }

    fn throughput(&self, stats: &AttestorStats) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            stats.successes as f64 / secs
        } else {
            0.0
        }
    }

    /// The table printed at the end of a run.
    pub fn table(&self, info: &RunInfo) -> String {
        let mut out = String::new();
        let how = match (info.rate, info.concurrency) {
            (Some(rate), _) => format!("open loop at {rate}/s"),
            (None, Some(c)) => format!("closed loop, concurrency {c}"),
            (None, None) => info.mode.clone(),
        };
        let _ = writeln!(
            out,
            "fleet-attest load: {how} against {} over {} connection{}; {:.2}s counted after {:.0}s warmup ({} warmup attempts)",
            info.server,
            info.connections,
            if info.connections == 1 { "" } else { "s" },
            self.window.as_secs_f64(),
            info.warmup.as_secs_f64(),
            self.warmup_attempts
        );
        let _ = writeln!(
            out,
            "{:<11} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "attestor", "attempts", "ok", "failed", "ok/s", "p50", "p90", "p99", "p99.9", "max"
        );
        let total = self.total();
        let rows: Vec<(&str, &AttestorStats)> = self
            .by_attestor
            .iter()
            .map(|(a, s)| (a.name(), s))
            .chain((self.by_attestor.len() > 1).then_some(("all", &total)))
            .collect();
        for (name, stats) in &rows {
            let _ = writeln!(
                out,
                "{:<11} {:>9} {:>9} {:>9} {:>10.1} {:>9} {:>9} {:>9} {:>9} {:>9}",
                name,
                stats.attempts,
                stats.successes,
                stats.failed(),
                self.throughput(stats),
                micros(stats.quantile_us(0.5)),
                micros(stats.quantile_us(0.9)),
                micros(stats.quantile_us(0.99)),
                micros(stats.quantile_us(0.999)),
                micros(stats.quantile_us(1.0)),
            );
        }
        for (attestor, stats) in &self.by_attestor {
            for (failure, n) in &stats.failures {
                let _ = writeln!(
                    out,
                    "  failed {attestor}: {n} × {} {:?}",
                    failure.code, failure.message
                );
            }
        }
        for (attestor, stats) in &self.by_attestor {
            if stats.successes > 0 {
                let _ = write!(
                    out,
                    "  {attestor}: {} of {} attested reattestable",
                    stats.reattestable, stats.successes
                );
                if self.compared {
                    let _ = write!(
                        out,
                        "; against --previous: {} kept their agent ID, {} changed, {} new, {} attested before now failed",
                        stats.kept, stats.changed, stats.new, stats.lost
                    );
                }
                out.push('\n');
            } else if self.compared && stats.lost > 0 {
                let _ = writeln!(
                    out,
                    "  {attestor}: against --previous: {} attested before now failed",
                    stats.lost
                );
            }
        }
        if total.attempts > 0 {
            let _ = writeln!(
                out,
                "  client CPU: {:.3}s, {} per attempt",
                self.cpu.as_secs_f64(),
                micros(
                    (self.cpu.as_micros() / u128::from(total.attempts + self.warmup_attempts))
                        as u64
                )
            );
        }
        out
    }

    fn stats_json(&self, stats: &AttestorStats) -> Value {
        let failures: Vec<Value> = stats
            .failures
            .iter()
            .map(|(f, n)| json!({"code": f.code, "message": f.message, "count": n}))
            .collect();
        let mut value = json!({
            "attempts": stats.attempts,
            "successes": stats.successes,
            "failures": stats.failed(),
            "failures_by_kind": failures,
            "throughput_per_second": self.throughput(stats),
            "latency_us": {
                "p50": stats.quantile_us(0.5),
                "p90": stats.quantile_us(0.9),
                "p99": stats.quantile_us(0.99),
                "p999": stats.quantile_us(0.999),
                "max": stats.quantile_us(1.0),
                "mean": if stats.latency.is_empty() { 0.0 } else { stats.latency.mean() },
            },
            "reattestable": stats.reattestable,
        });
        if self.compared {
            value["against_previous"] = json!({
                "kept": stats.kept, "changed": stats.changed, "new": stats.new, "lost": stats.lost,
            });
        }
        value
    }

    /// The `--summary` object.
    pub fn summary(&self, info: &RunInfo) -> Value {
        let by_attestor: serde_json::Map<String, Value> = self
            .by_attestor
            .iter()
            .map(|(a, s)| (a.name().to_owned(), self.stats_json(s)))
            .collect();
        let total = self.total();
        json!({
            "server": info.server,
            "mode": info.mode,
            "rate": info.rate,
            "concurrency": info.concurrency,
            "connections": info.connections,
            "warmup_seconds": info.warmup.as_secs_f64(),
            "warmup_attempts": self.warmup_attempts,
            "started_unix_us": info.started_unix_us,
            "counted_seconds": self.window.as_secs_f64(),
            "client_cpu_seconds": self.cpu.as_secs_f64(),
            "by_attestor": by_attestor,
            "total": self.stats_json(&total),
        })
    }
}

/// A latency for people: µs under 1 ms, ms under 1 s, else s.
pub fn micros(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, latency_us: u64, outcome: Outcome) -> Record {
        Record {
            seq,
            warmup: false,
            scheduled: Duration::from_secs(1),
            started: Duration::from_secs(1),
            finished: Duration::from_secs(1) + Duration::from_micros(latency_us),
            outcome,
        }
    }

    fn ok(id: &str) -> Outcome {
        Outcome::Attested {
            agent_id: id.into(),
            reattestable: true,
        }
    }

    /// Percentiles against nearest rank over the sorted values, within the histogram's
    /// precision (3 significant digits: 0.1 %).
    #[test]
    fn percentiles_match_nearest_rank_within_histogram_precision() {
        let mut values: Vec<u64> = (0..10_000u64).map(|i| 100 + (i * 7919) % 250_000).collect();
        let mut stats = AttestorStats::default();
        for &v in &values {
            stats.add(Duration::from_micros(v), &ok("x"), None);
        }
        values.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            let want = values[rank - 1] as f64;
            let got = stats.quantile_us(q) as f64;
            assert!(
                (got - want).abs() <= want * 0.001 + 1.0,
                "q {q}: {got} vs {want}"
            );
        }
        assert_eq!(stats.quantile_us(1.0), stats.latency.max());
        assert!(AttestorStats::default().quantile_us(0.5) == 0);
    }

    #[test]
    fn the_table_and_summary_show_counts_failures_and_continuity() {
        let mut previous = HashMap::new();
        previous.insert(
            "a".to_string(),
            "spiffe://td/spire/agent/x509pop/1".to_string(),
        );
        previous.insert(
            "b".to_string(),
            "spiffe://td/spire/agent/x509pop/2".to_string(),
        );
        previous.insert(
            "c".to_string(),
            "spiffe://td/spire/agent/x509pop/3".to_string(),
        );
        let mut collector = Collector::new(Duration::from_secs(1), Some(previous));
        let denied = Outcome::Failed(Failure {
            code: "PermissionDenied".into(),
            message: "certificate verification failed".into(),
        });
        let x = Attestor::X509Pop;
        assert_eq!(
            collector.add(
                &record(0, 800, ok("spiffe://td/spire/agent/x509pop/1")),
                "a",
                x
            ),
            Some(Continuity::Kept)
        );
        assert_eq!(
            collector.add(
                &record(1, 2_500, ok("spiffe://td/spire/agent/x509pop/9")),
                "b",
                x
            ),
            Some(Continuity::Changed)
        );
        collector.add(&record(2, 1_200_000, denied.clone()), "c", x);
        collector.add(
            &record(3, 3_000, ok("spiffe://td/spire/agent/x509pop/4")),
            "d",
            x,
        );
        collector.add(
            &record(4, 40_000, ok("spiffe://td/spire/agent/join_token/t")),
            "t",
            Attestor::JoinToken,
        );
        let mut warm = record(5, 10, ok("x"));
        warm.warmup = true;
        assert_eq!(collector.add(&warm, "a", x), None);
        let report = collector.finish(Duration::from_millis(12));
        let info = RunInfo {
            server: "127.0.0.1:8081".into(),
            mode: "open".into(),
            rate: Some(50.0),
            concurrency: None,
            connections: 2,
            warmup: Duration::from_secs(1),
            started_unix_us: 1_700_000_000_000_000,
        };
        let table = report.table(&info);
        let want = "\
fleet-attest load: open loop at 50/s against 127.0.0.1:8081 over 2 connections; 1.20s counted after 1s warmup (1 warmup attempts)
attestor     attempts        ok    failed       ok/s       p50       p90       p99     p99.9       max
x509pop             4         3         1        2.5     2.5ms     1.20s     1.20s     1.20s     1.20s
join_token          1         1         0        0.8    40.0ms    40.0ms    40.0ms    40.0ms    40.0ms
all                 5         4         1        3.3     3.0ms     1.20s     1.20s     1.20s     1.20s
  failed x509pop: 1 × PermissionDenied \"certificate verification failed\"
  x509pop: 3 of 3 attested reattestable; against --previous: 1 kept their agent ID, 1 changed, 1 new, 1 attested before now failed
  join_token: 1 of 1 attested reattestable; against --previous: 0 kept their agent ID, 0 changed, 1 new, 0 attested before now failed
  client CPU: 0.012s, 2.0ms per attempt
";
        assert_eq!(table, want, "\n{table}");

        let summary = report.summary(&info);
        let x509pop = &summary["by_attestor"]["x509pop"];
        assert_eq!(x509pop["attempts"], 4);
        assert_eq!(x509pop["successes"], 3);
        assert_eq!(x509pop["failures"], 1);
        assert_eq!(
            x509pop["failures_by_kind"],
            json!([{"code": "PermissionDenied", "message": "certificate verification failed", "count": 1}])
        );
        assert_eq!(
            x509pop["against_previous"],
            json!({"kept": 1, "changed": 1, "new": 1, "lost": 1})
        );
        assert_eq!(x509pop["latency_us"]["max"], 1_200_127);
        assert_eq!(summary["total"]["attempts"], 5);
        assert_eq!(summary["warmup_attempts"], 1);
    }

    #[test]
    fn latencies_print_in_a_readable_unit() {
        assert_eq!(micros(999), "999µs");
        assert_eq!(micros(1_000), "1.0ms");
        assert_eq!(micros(999_949), "999.9ms");
        assert_eq!(micros(1_500_000), "1.50s");
    }
}
