//! The results of a `mptfo lab run`: scenarios, their repetitions and the
//! figures read from each repetition's JSON report (`mptfo bench`,
//! `mptfo loadgen`, `mptfo kernel-client`), with the medians, spreads and
//! ratios the report shows.
//!
//! Per core: every scenario runs both of its ends on this machine, so a
//! rate per core divides by the cores of both ends,
//! `tps_per_core = tps / (client_cores + server_cores)`. The engine-only
//! scenario (`mptfo bench`, virtual time) runs client and server stacks in
//! one thread on one core: declare it with `client_cores = 1,
//! server_cores = 0`; its per-core figure is the report's own
//! `rate.per_cpu_second_one_core_both_ends` (transactions per CPU-second of
//! that one thread), whatever cores are declared.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything one `mptfo lab run` measured: written as `results.json` in
/// the run folder, and the input of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// The lab's name (from the lab file).
    pub lab: String,
    /// When the run started, UTC (e.g. `2026-11-25T00:00:00Z`).
    pub started_utc: String,
    /// The machine: host, CPU model and cores, kernel, DPDK.
    pub machine: String,
    /// One entry per matrix point (scenario × TFO setting × MPTCP
    /// setting), in run order.
    pub scenarios: Vec<ScenarioResult>,
    /// The ratios the lab file asks for.
    pub ratios: Vec<RatioSpec>,
}

/// One matrix point: a scenario with one TFO and one MPTCP setting, run
/// several times.
///
/// Its `name` is the scenario's name followed by `-tfo` or `-notfo`
/// (e.g. `a-tfo`, `a-notfo`), and `-tcp` when the client ran without
/// MPTCP (`a-tfo-tcp`); a plain scenario name (`a`) is accepted too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Name of the matrix point, e.g. `a-tfo`.
    pub name: String,
    /// What it is, for a person (e.g. "Linux client -> mptfo serve, veth").
    pub title: String,
    /// TCP Fast Open on the client.
    pub tfo: bool,
    /// The client offered MPTCP (false: plain TCP). Results written
    /// before the setting existed read as true.
    #[serde(default = "mptcp_on")]
    pub mptcp: bool,
    /// Cores (worker threads) the client end runs on.
    pub client_cores: usize,
    /// Cores the server end runs on (0 when the server runs on the
    /// client's core, as in `mptfo bench`).
    pub server_cores: usize,
    /// The repetitions, failed ones included.
    pub reps: Vec<RepResult>,
    /// Why the scenario could not run at all (set up, start), if so.
    pub error: Option<String>,
}

fn mptcp_on() -> bool {
    true
}

/// One repetition of a matrix point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepResult {
    /// 1-based repetition number.
    pub index: usize,
    /// The repetition's JSON report, relative to the run folder.
    pub json: PathBuf,
    /// Its figures; [`Figures::failed`] when the repetition failed.
    pub figures: Figures,
}

/// Latency percentiles of one span, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest value.
    pub max_us: f64,
}

/// One interval (a second, by default) of a live run's progress, from the
/// report's `intervals`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Seconds since the load started, at the end of the interval.
    pub t_s: f64,
    /// Length of the interval, seconds.
    pub len_s: f64,
    /// Transactions (requests answered in full) per second.
    pub requests_per_s: f64,
    /// Connections opened per second.
    pub connections_per_s: f64,
}

/// The figures of one repetition, read from its JSON report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Why the repetition failed (the command's error, a missing or
    /// unreadable report); `None` for a successful one. A failed
    /// repetition's other figures are zero and count in no median.
    pub failure: Option<String>,
    /// Whose stack the load generator ran on: "mptfo" or "kernel".
    pub stack: String,
    /// The clock of latencies and `seconds`: "virtual" (mem link) or
    /// "wall" (live run).
    pub clock: String,
    /// What ran (the report's `setup`).
    pub setup: String,
    /// The load and its settings in a line: loop kind, connections,
    /// requests per connection, request and reply sizes, RTT.
    pub load: String,
    /// Transactions completed (whole reply received).
    pub transactions: u64,
    /// Transactions started.
    pub started: u64,
    /// Seconds from the first SYN to the last reply byte, on `clock`; in a
    /// virtual-time run at RTT 0 (where virtual time stands still), the
    /// wall-clock seconds of the run.
    pub seconds: f64,
    /// Transactions per second over `seconds` (the report's
    /// `rate.per_load_second`; at RTT 0 in virtual time, the engine's
    /// `rate.per_wall_second_one_core_both_ends`).
    pub tps: f64,
    /// Cores the figure per core divides by: client + server cores of a
    /// live run, 1 for a virtual-time run (both ends on one core).
    pub cores_used: usize,
    /// Transactions per second per core used: `tps / cores_used` in a live
    /// run; `rate.per_cpu_second_one_core_both_ends` in a virtual-time run.
    pub tps_per_core: f64,
    /// SYN -> SYN/ACK on the client; `None` when the report has none.
    pub syn_to_synack: Option<Percentiles>,
    /// SYN -> first reply byte.
    pub syn_to_first_byte: Percentiles,
    /// SYN -> last reply byte.
    pub syn_to_last_byte: Percentiles,
    /// Connections opened: transactions started / requests per connection,
    /// rounded up; with several requests per connection, the load
    /// generator's count over its intervals where it reported them.
    pub connections: u64,
    /// SYNs sent with data and a cookie (client TcpExtTCPFastOpenActive).
    pub tfo_syn_data: u64,
    /// SYN data accepted (server's count, or the client's view against
    /// another server).
    pub tfo_accepted: u64,
    /// `tfo_accepted / connections`, 0..=1.
    pub tfo_accepted_share: f64,
    /// MPTCP fallbacks to TCP, both ends.
    pub fallbacks: u64,
    /// Retransmitted segments, both ends.
    pub retransmissions: u64,
    /// Errors (the report's `errors.total`).
    pub errors: u64,
    /// Close reasons of the failed connections -> count.
    pub error_reasons: BTreeMap<String, u64>,
    /// What went abnormally in a run that still produced a report (drain
    /// limit hit, stuck, connections left open).
    pub warnings: Vec<String>,
    /// The progress of the load, interval by interval (empty for
    /// `mptfo bench`, which prints none).
    #[serde(default)]
    pub intervals: Vec<Progress>,
}

/// The metrics a [`RatioSpec`] can name, with their meaning.
pub const METRICS: &[(&str, &str)] = &[
    ("tps", "transactions/s"),
    ("tps_per_core", "transactions/s per core"),
    ("p50_last_us", "SYN->last byte p50"),
    ("p90_last_us", "SYN->last byte p90"),
    ("p99_last_us", "SYN->last byte p99"),
    ("p999_last_us", "SYN->last byte p99.9"),
    ("p50_first_us", "SYN->first byte p50"),
    ("p99_first_us", "SYN->first byte p99"),
    ("p50_synack_us", "SYN->SYN/ACK p50"),
    ("p99_synack_us", "SYN->SYN/ACK p99"),
    ("tfo_accepted_share", "TFO accepted share"),
];

fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn req_f64(v: &Value, path: &str) -> anyhow::Result<f64> {
    match field(v, path) {
        Some(x) => x
            .as_f64()
            .ok_or_else(|| anyhow!("report JSON: `{path}` is {x}, expected a number")),
        None => bail!("report JSON: `{path}` is missing"),
    }
}

fn req_u64(v: &Value, path: &str) -> anyhow::Result<u64> {
    match field(v, path) {
        Some(x) => x.as_u64().ok_or_else(|| {
            anyhow!("report JSON: `{path}` is {x}, expected a non-negative integer")
        }),
        None => bail!("report JSON: `{path}` is missing"),
    }
}

fn opt_u64(v: &Value, path: &str) -> u64 {
    field(v, path).and_then(Value::as_u64).unwrap_or(0)
}

fn opt_str(v: &Value, path: &str) -> String {
    field(v, path)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn percentiles(v: &Value, path: &str) -> anyhow::Result<Percentiles> {
    let p = |k: &str| req_f64(v, &format!("{path}.{k}"));
    Ok(Percentiles {
        count: req_u64(v, &format!("{path}.count"))?,
        p50_us: p("p50_us")?,
        p90_us: p("p90_us")?,
        p99_us: p("p99_us")?,
        p999_us: p("p999_us")?,
        max_us: p("max_us")?,
    })
}

/// The report's `intervals` (none when the key is missing or null); an
/// entry without its time or rates is an error naming it.
fn intervals(v: &Value) -> anyhow::Result<Vec<Progress>> {
    let list = match field(v, "intervals") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(x) => bail!("report JSON: `intervals` is {x}, expected an array"),
    };
    list.iter()
        .enumerate()
        .map(|(i, x)| {
            let num = |k: &str| -> anyhow::Result<f64> {
                match x.get(k) {
                    Some(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).ok_or_else(|| {
                        anyhow!("report JSON: `intervals[{i}].{k}` is {n}, expected a number of 0 or more")
                    }),
                    None => bail!("report JSON: `intervals[{i}].{k}` is missing"),
                }
            };
            Ok(Progress {
                t_s: num("t_s")?,
                len_s: num("len_s")?,
                requests_per_s: num("requests_per_s")?,
                connections_per_s: num("connections_per_s")?,
            })
        })
        .collect()
}

fn load_line(v: &Value) -> String {
    let mut parts = Vec::new();
    let kind = opt_str(v, "load.kind");
    let conns = field(v, "load.connections")
        .or_else(|| field(v, "config.concurrency"))
        .and_then(Value::as_u64);
    match (kind.as_str(), conns) {
        ("open", _) => {
            let rate = field(v, "load.rate_per_s")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            parts.push(format!("open loop {rate:.0} transactions/s"));
        }
        (_, Some(c)) => parts.push(format!("closed loop, {c} in flight")),
        _ => {}
    }
    let rpc = opt_u64(v, "load.requests_per_connection");
    if rpc > 1 {
        parts.push(format!("{rpc} requests per connection"));
    }
    let mode = opt_str(v, "config.mode");
    if let (Some(q), Some(r)) = (
        field(v, "config.request_bytes").and_then(Value::as_u64),
        field(v, "config.response_bytes").and_then(Value::as_u64),
    ) {
        parts.push(format!("{mode} {q} B -> {r} B").trim().to_string());
    }
    if opt_str(v, "clock") == "virtual" {
        if let Some(rtt) = field(v, "config.rtt_ms").and_then(Value::as_f64) {
            parts.push(format!("RTT {rtt} ms"));
        }
    }
    if let Some(false) = field(v, "config.mptcp").and_then(Value::as_bool) {
        parts.push("MPTCP off".into());
    }
    parts.join(", ")
}

impl Figures {
    /// The figures of a repetition that failed: `why` is shown in the
    /// report, and the repetition counts in no median.
    pub fn failed(why: impl Into<String>) -> Figures {
        Figures {
            failure: Some(why.into()),
            ..Figures::default()
        }
    }

    /// Whether the repetition produced figures.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// The figures of one JSON report (`mptfo_bench::report::Report`).
    ///
    /// `clock`, `transactions`, `rate.per_load_second` and the
    /// `latency.syn_to_last_byte` / `syn_to_first_byte` summaries are
    /// required (an error names the missing or malformed key); the others
    /// are read when present. A virtual-time report (`clock == "virtual"`)
    /// takes its per-core rate from `rate.per_cpu_second_one_core_both_ends`
    /// and uses 1 core; a wall-clock one divides `tps` by
    /// `client_cores + server_cores`, which must not be 0.
    pub fn from_report_json(
        v: &Value,
        client_cores: usize,
        server_cores: usize,
    ) -> anyhow::Result<Figures> {
        if !v.is_object() {
            bail!("report JSON: expected an object, found {v}");
        }
        let clock = match field(v, "clock").and_then(Value::as_str) {
            Some(c @ ("virtual" | "wall")) => c.to_string(),
            Some(c) => bail!("report JSON: `clock` is {c:?}, expected \"virtual\" or \"wall\""),
            None => bail!("report JSON: `clock` is missing (expected \"virtual\" or \"wall\")"),
        };
        let transactions = req_u64(v, "transactions")?;
        let started = field(v, "started")
            .and_then(Value::as_u64)
            .unwrap_or(transactions);
        let mut seconds = req_f64(v, "rate.load_seconds")?;
        let mut tps = req_f64(v, "rate.per_load_second")?;
        let mut load = load_line(v);
        let rtt0 = field(v, "config.rtt_ms").and_then(Value::as_f64) == Some(0.0);
        if clock == "virtual" && (seconds == 0.0 || rtt0) && transactions > 0 {
            // RTT 0: every exchange is instant in virtual time (which
            // moves only on timers), so the only rate there is is the
            // engine's, on the wall clock.
            seconds = req_f64(v, "rate.wall_seconds")?;
            tps = req_f64(v, "rate.per_wall_second_one_core_both_ends")?;
            load.push_str(
                "; transactions/s on the wall clock (virtual time stands still at RTT 0)",
            );
        }
        let (cores_used, tps_per_core) = if clock == "virtual" {
            (1, req_f64(v, "rate.per_cpu_second_one_core_both_ends")?)
        } else {
            let n = client_cores + server_cores;
            if n == 0 {
                bail!("a live run needs its cores: client_cores + server_cores is 0, expected at least 1");
            }
            (n, tps / n as f64)
        };
        let syn_to_last_byte = percentiles(v, "latency.syn_to_last_byte")?;
        let syn_to_first_byte = percentiles(v, "latency.syn_to_first_byte")?;
        let syn_to_synack = match field(v, "latency.syn_to_synack") {
            Some(x) if !x.is_null() => {
                let p = percentiles(v, "latency.syn_to_synack")?;
                (p.count > 0).then_some(p)
            }
            _ => None,
        };
        let rpc = opt_u64(v, "load.requests_per_connection").max(1);
        let intervals = intervals(v)?;
        // Keep-alive: connections cut short at the end carried fewer
        // requests, so the load generator's own count of connections
        // opened (its intervals) is the one to take where it has one.
        let opened: f64 = intervals
            .iter()
            .map(|p| p.connections_per_s * p.len_s)
            .sum();
        let connections = if rpc > 1 && opened > 0.0 {
            opened.round() as u64
        } else {
            started.div_ceil(rpc)
        };
        let tfo_accepted = opt_u64(v, "tfo.accepted");
        let tfo_accepted_share = if connections > 0 {
            tfo_accepted as f64 / connections as f64
        } else {
            0.0
        };
        let mut error_reasons = BTreeMap::new();
        if let Some(m) = field(v, "errors.reasons").and_then(Value::as_object) {
            for (k, n) in m {
                if let Some(n) = n.as_u64() {
                    error_reasons.insert(k.clone(), n);
                }
            }
        }
        let mut warnings = Vec::new();
        let flag = |p: &str| field(v, p).and_then(Value::as_bool).unwrap_or(false);
        if flag("run.drain_timed_out") {
            warnings.push("the drain limit ended the run with connections open".to_string());
        }
        if flag("run.stuck") {
            warnings.push("the run stopped: nothing could happen any more".to_string());
        }
        if let Some([c, s]) = field(v, "run.open_at_end")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| x.as_u64().unwrap_or(0))
                    .collect::<Vec<_>>()
            })
            .as_deref()
        {
            if *c + *s > 0 {
                warnings.push(format!(
                    "connections still open at the end: client {c}, server {s}"
                ));
            }
        }
        let unfinished = opt_u64(v, "errors.unfinished");
        if unfinished > 0 {
            warnings.push(format!("{unfinished} transactions unfinished at the end"));
        }
        if clock == "wall" && opt_str(v, "stack") == "mptfo" {
            if let Some(c) = field(v, "cores").and_then(Value::as_u64) {
                if c as usize != client_cores {
                    warnings.push(format!(
                        "the load generator reports {c} worker cores, the scenario declares {client_cores}"
                    ));
                }
            }
        }
        Ok(Figures {
            failure: None,
            stack: opt_str(v, "stack"),
            clock,
            setup: opt_str(v, "setup"),
            load,
            transactions,
            started,
            seconds,
            tps,
            cores_used,
            tps_per_core,
            syn_to_synack,
            syn_to_first_byte,
            syn_to_last_byte,
            connections,
            tfo_syn_data: opt_u64(v, "tfo.client_active"),
            tfo_accepted,
            tfo_accepted_share,
            fallbacks: opt_u64(v, "fallbacks.total"),
            retransmissions: opt_u64(v, "retransmissions.total"),
            errors: req_u64(v, "errors.total").unwrap_or(0),
            error_reasons,
            warnings,
            intervals,
        })
    }

    /// Reads and parses a JSON report file, then [`Figures::from_report_json`].
    pub fn from_report_file(
        path: &std::path::Path,
        client_cores: usize,
        server_cores: usize,
    ) -> anyhow::Result<Figures> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the report {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing the report {} as JSON", path.display()))?;
        Figures::from_report_json(&v, client_cores, server_cores)
            .with_context(|| format!("in the report {}", path.display()))
    }

    /// The value of a metric named in [`METRICS`]; `None` for a name not
    /// there, or a latency the report did not measure (SYN->SYN/ACK).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let synack = self.syn_to_synack;
        Some(match name {
            "tps" => self.tps,
            "tps_per_core" => self.tps_per_core,
            "p50_last_us" => self.syn_to_last_byte.p50_us,
            "p90_last_us" => self.syn_to_last_byte.p90_us,
            "p99_last_us" => self.syn_to_last_byte.p99_us,
            "p999_last_us" => self.syn_to_last_byte.p999_us,
            "p50_first_us" => self.syn_to_first_byte.p50_us,
            "p99_first_us" => self.syn_to_first_byte.p99_us,
            "p50_synack_us" => synack?.p50_us,
            "p99_synack_us" => synack?.p99_us,
            "tfo_accepted_share" => self.tfo_accepted_share,
            _ => return None,
        })
    }
}

/// Median and range of a figure over the successful repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median: the middle value, or the mean of the two middle values of
    /// an even count.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values`; `None` when there are none. NaNs are
    /// ignored.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

impl ScenarioResult {
    /// The successful repetitions' figures.
    pub fn ok_figures(&self) -> impl Iterator<Item = &Figures> {
        self.reps.iter().map(|r| &r.figures).filter(|f| f.ok())
    }

    /// Median and range of a figure over the successful repetitions;
    /// `None` when none succeeded or none has the figure.
    pub fn spread(&self, f: impl Fn(&Figures) -> Option<f64>) -> Option<Spread> {
        let v: Vec<f64> = self.ok_figures().filter_map(f).collect();
        Spread::of(&v)
    }

    /// Median and range of a metric named in [`METRICS`].
    pub fn metric(&self, name: &str) -> Option<Spread> {
        self.spread(|f| f.metric(name))
    }

    /// The scenario's name without its `-tfo` / `-notfo` (and `-tcp`)
    /// suffix (the name a [`RatioSpec`] uses).
    pub fn base_name(&self) -> &str {
        let name = if self.mptcp {
            self.name.as_str()
        } else {
            self.name.strip_suffix("-tcp").unwrap_or(&self.name)
        };
        let suffix = if self.tfo { "-tfo" } else { "-notfo" };
        match name.strip_suffix(suffix) {
            Some(b) => b,
            None => &self.name,
        }
    }

    /// The matrix setting in words: "TFO on", "TFO off, MPTCP off".
    pub fn setting(&self) -> String {
        let mut s = format!("TFO {}", if self.tfo { "on" } else { "off" });
        if !self.mptcp {
            s.push_str(", MPTCP off");
        }
        s
    }

    /// Why the scenario has no figures, when it has none: its own error,
    /// else the failures of its repetitions, else "no repetitions".
    pub fn no_figures_reason(&self) -> Option<String> {
        if self.ok_figures().next().is_some() {
            return None;
        }
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        // One line per distinct failure: "reps 1, 3: <why>".
        let mut groups: Vec<(Vec<usize>, &str)> = Vec::new();
        for r in &self.reps {
            if let Some(f) = &r.figures.failure {
                match groups.iter_mut().find(|(_, w)| *w == f.as_str()) {
                    Some((idx, _)) => idx.push(r.index),
                    None => groups.push((vec![r.index], f.as_str())),
                }
            }
        }
        if groups.is_empty() {
            return Some("no repetitions ran".into());
        }
        let lines: Vec<String> = groups
            .iter()
            .map(|(idx, why)| {
                let list: Vec<String> = idx.iter().map(usize::to_string).collect();
                let s = if idx.len() > 1 { "s" } else { "" };
                format!("rep{s} {}: {why}", list.join(", "))
            })
            .collect();
        Some(lines.join("; "))
    }
}

/// A ratio of two scenarios' medians the lab file asks for, e.g. label
/// "b/a transactions/s per core (goal ≥ 10)", numerator "b", denominator
/// "a", metric "tps_per_core".
///
/// `numerator` and `denominator` name scenarios (without the `-tfo` /
/// `-notfo` / `-tcp` suffix); the ratio is computed for each TFO and MPTCP
/// setting present in both, from the medians over their successful
/// repetitions. When both
/// name matrix points instead (e.g. "a-tfo" over "a-notfo": what TFO
/// changes), there is one ratio, of those two. A goal in the label
/// (`goal ≥ X`, `goal >= X`, `goal ≤ X`, `goal <= X`) is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioSpec {
    /// What the line says.
    pub label: String,
    /// Scenario on top.
    pub numerator: String,
    /// Scenario below.
    pub denominator: String,
    /// One of the names in [`METRICS`] (e.g. "tps_per_core",
    /// "p99_last_us", "tps").
    pub metric: String,
}

/// A goal a ratio must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// At least this.
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
}

impl Goal {
    /// Whether `v` meets the goal.
    pub fn met(self, v: f64) -> bool {
        match self {
            Goal::AtLeast(g) => v >= g,
            Goal::AtMost(g) => v <= g,
        }
    }
}

/// One computed ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioValue {
    /// TFO setting of both matrix points; `None` when the spec named the
    /// matrix points themselves.
    pub tfo: Option<bool>,
    /// MPTCP setting of both matrix points; `None` as for `tfo`.
    pub mptcp: Option<bool>,
    /// The matrix point on top.
    pub numerator: String,
    /// The matrix point below.
    pub denominator: String,
    /// Numerator's median / denominator's median; `Err` says why there is
    /// none (a scenario without figures, a zero denominator).
    pub value: Result<f64, String>,
}

impl RatioSpec {
    /// Checks the metric name; the error names it and lists the known ones.
    pub fn check(&self) -> anyhow::Result<()> {
        if METRICS.iter().any(|(m, _)| *m == self.metric) {
            Ok(())
        } else {
            let known: Vec<&str> = METRICS.iter().map(|(m, _)| *m).collect();
            bail!(
                "ratio {:?}: metric {:?} is not known, expected one of {}",
                self.label,
                self.metric,
                known.join(", ")
            )
        }
    }

    /// The goal written in the label, if any.
    pub fn goal(&self) -> Option<Goal> {
        let l = &self.label;
        let at = l.find("goal")?;
        let rest = l[at + 4..].trim_start();
        let (ctor, rest): (fn(f64) -> Goal, &str) = if let Some(r) = rest.strip_prefix('≥') {
            (Goal::AtLeast, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Goal::AtLeast, r)
        } else if let Some(r) = rest.strip_prefix('≤') {
            (Goal::AtMost, r)
        } else if let Some(r) = rest.strip_prefix("<=") {
            (Goal::AtMost, r)
        } else {
            return None;
        };
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
            .unwrap_or(rest.len());
        rest[..end]
            .trim_end_matches('.')
            .parse::<f64>()
            .ok()
            .map(ctor)
    }

    /// The ratio for each TFO and MPTCP setting (on first) present in
    /// both scenarios, or the one ratio of two named matrix points; empty when
    /// there is nothing to compare.
    pub fn compute(&self, scenarios: &[ScenarioResult]) -> Vec<RatioValue> {
        let point = |name: &str| {
            scenarios
                .iter()
                .find(|s| s.name == name && s.base_name() != name)
        };
        type Pair<'s> = (Option<(bool, bool)>, &'s ScenarioResult, &'s ScenarioResult);
        let pairs: Vec<Pair> = match (point(&self.numerator), point(&self.denominator)) {
            (Some(n), Some(d)) => vec![(None, n, d)],
            _ => {
                let find = |name: &str, tfo: bool, mptcp: bool| {
                    scenarios
                        .iter()
                        .find(|s| s.tfo == tfo && s.mptcp == mptcp && s.base_name() == name)
                };
                [(true, true), (true, false), (false, true), (false, false)]
                    .into_iter()
                    .filter_map(|(tfo, mptcp)| {
                        Some((
                            Some((tfo, mptcp)),
                            find(&self.numerator, tfo, mptcp)?,
                            find(&self.denominator, tfo, mptcp)?,
                        ))
                    })
                    .collect()
            }
        };
        let med = |s: &ScenarioResult| match s.metric(&self.metric) {
            Some(sp) => Ok(sp.median),
            None => Err(match s.no_figures_reason() {
                Some(why) => format!("{} has no figures ({why})", s.name),
                None => format!("{} has no {} figure", s.name, self.metric),
            }),
        };
        pairs
            .into_iter()
            .map(|(setting, n, d)| {
                let value = med(n).and_then(|a| {
                    let b = med(d)?;
                    if b == 0.0 {
                        Err(format!("{} {} is 0", d.name, self.metric))
                    } else {
                        Ok(a / b)
                    }
                });
                RatioValue {
                    tfo: setting.map(|(t, _)| t),
                    mptcp: setting.map(|(_, m)| m),
                    numerator: n.name.clone(),
                    denominator: d.name.clone(),
                    value,
                }
            })
            .collect()
    }
}

/// Hand-made reports and results for the tests of this crate.
#[cfg(test)]
pub(crate) mod testdata {
    use super::*;
    use serde_json::json;

    /// A latency summary with the given percentiles (µs).
    pub fn lat(count: u64, p50: f64, p90: f64, p99: f64, p999: f64) -> Value {
        json!({
            "count": count, "min_us": p50 / 2.0, "mean_us": p50, "p50_us": p50,
            "p90_us": p90, "p99_us": p99, "p999_us": p999, "max_us": p999 * 2.0
        })
    }

    /// A virtual-time `mptfo bench` report.
    pub fn bench(tps: f64, per_cpu: f64, p50: f64, p99: f64) -> Value {
        json!({
            "stack": "mptfo", "cores": 1,
            "load": {"kind": "closed", "connections": 16, "rate_per_s": 0.0,
                     "requests_per_connection": 1, "from_intended_start": false},
            "setup": "mem link, virtual time; client and server stacks in one process on one core",
            "clock": "virtual",
            "config": {"duration_s": 1.0, "transactions_limit": null, "concurrency": 16,
                       "request_bytes": 64, "response_bytes": 64, "mode": "rpc", "tfo": true,
                       "mptcp": true, "rtt_ms": 1.0, "reply": "early", "seed": 1,
                       "time_wait_s": 1.0, "loss": 0.0},
            "transactions": 1000, "started": 1000,
            "rate": {"load_seconds": 1000.0 / tps, "per_load_second": tps,
                     "virtual_seconds": 1000.0 / tps, "per_virtual_second": tps,
                     "wall_seconds": 0.01, "cpu_seconds": 0.01,
                     "per_cpu_second_one_core_both_ends": per_cpu,
                     "per_wall_second_one_core_both_ends": per_cpu},
            "tfo": {"accepted": 999, "rejected": 0, "client_active": 999,
                    "client_active_fail": 0, "cookie_requests": 1, "server_counted": true},
            "fallbacks": {"synack": 0, "ack": 0, "data": 0, "total": 0, "mptcp_transactions": 1000},
            "retransmissions": {"client": 0, "server": 0, "syn": 0, "mptcp": 0, "total": 0},
            "errors": {"client": 0, "server": 0, "incomplete": 0, "overlong": 0, "unfinished": 0,
                       "unclosed": 0, "reasons": {}, "total": 0},
            "latency": {"syn_to_last_byte": lat(1000, p50, p50, p99, p99),
                        "syn_to_first_byte": lat(1000, p50, p50, p99, p99),
                        "syn_to_synack": lat(0, 0.0, 0.0, 0.0, 0.0)},
            "run": {"frames": 1, "polls": 1, "port_exhausted": 0, "drain_timed_out": false,
                    "wall_timed_out": false, "stuck": false, "clock_nudges": 0,
                    "open_at_end": [0, 0], "stragglers": []},
            "client_counters": {}, "server_counters": {}, "paths": [], "joins": null,
            "intervals": []
        })
    }

    /// A wall-clock live report (`mptfo loadgen` or the kernel client).
    #[allow(clippy::too_many_arguments)]
    pub fn live(
        stack: &str,
        tps: f64,
        p50: f64,
        p90: f64,
        p99: f64,
        p999: f64,
        synack_p50: f64,
        errors: u64,
    ) -> Value {
        json!({
            "stack": stack, "cores": 1,
            "load": {"kind": "closed", "connections": 8, "rate_per_s": 0.0,
                     "requests_per_connection": 1, "from_intended_start": false},
            "setup": "net_memif0, target 10.99.0.1:8080",
            "clock": "wall",
            "config": {"duration_s": 2.0, "transactions_limit": null, "concurrency": 8,
                       "request_bytes": 100, "response_bytes": 1000, "mode": "rpc", "tfo": true,
                       "mptcp": true, "rtt_ms": 0.0, "reply": "hold", "seed": 1,
                       "time_wait_s": 1.0, "loss": 0.0},
            "transactions": (tps * 2.0) as u64, "started": (tps * 2.0) as u64 + errors,
            "rate": {"load_seconds": 2.0, "per_load_second": tps, "virtual_seconds": 0.0,
                     "per_virtual_second": 0.0, "wall_seconds": 2.0, "cpu_seconds": 2.0,
                     "per_cpu_second_one_core_both_ends": tps / 2.0,
                     "per_wall_second_one_core_both_ends": tps / 2.0},
            "tfo": {"accepted": (tps * 2.0) as u64 - 1, "rejected": 0,
                    "client_active": (tps * 2.0) as u64 - 1, "client_active_fail": 0,
                    "cookie_requests": 0, "server_counted": false},
            "fallbacks": {"synack": 1, "ack": 0, "data": 1, "total": 2, "mptcp_transactions": 0},
            "retransmissions": {"client": 3, "server": 0, "syn": 1, "mptcp": 0, "total": 3},
            "errors": {"client": errors, "server": 0, "incomplete": 0, "overlong": 0,
                       "unfinished": 0, "unclosed": 0,
                       "reasons": if errors > 0 { json!({"client Reset": errors}) } else { json!({}) },
                       "total": errors},
            "latency": {"syn_to_last_byte": lat(1000, p50, p90, p99, p999),
                        "syn_to_first_byte": lat(1000, p50 * 0.9, p90 * 0.9, p99 * 0.9, p999 * 0.9),
                        "syn_to_synack": lat(1000, synack_p50, synack_p50, synack_p50 * 2.0, synack_p50 * 3.0)},
            "run": {"frames": 1, "polls": 1, "port_exhausted": 0, "drain_timed_out": false,
                    "wall_timed_out": true, "stuck": false, "clock_nudges": 0,
                    "open_at_end": [0, 0], "stragglers": []},
            "client_counters": {}, "server_counters": {}, "paths": [], "joins": null,
            "intervals": []
        })
    }

    fn rep(index: usize, v: &Value, client: usize, server: usize) -> RepResult {
        RepResult {
            index,
            json: PathBuf::from(format!("reps/rep{index}.json")),
            figures: Figures::from_report_json(v, client, server).unwrap(),
        }
    }

    /// A run with 3 repetitions per matrix point: "a" (Linux client ->
    /// Linux server, 1 + 1 cores), "b" (mptfo loadgen -> mptfo serve, 1 + 1
    /// cores), "e" (the engine-only bench), each with TFO on and off, and
    /// "c-tfo" whose repetitions all failed.
    pub fn run() -> RunResults {
        let mut scenarios = Vec::new();
        for tfo in [true, false] {
            let sfx = if tfo { "tfo" } else { "notfo" };
            let slow = if tfo { 1.0 } else { 1.5 };
            // a: kernel, 10k/12k/11k tps; p99 2000/2400/2200 µs (× slow).
            let a = [(10_000.0, 2000.0), (12_000.0, 2400.0), (11_000.0, 2200.0)];
            scenarios.push(ScenarioResult {
                name: format!("a-{sfx}"),
                title: "Linux client -> Linux server, veth".into(),
                tfo,
                mptcp: true,
                client_cores: 1,
                server_cores: 1,
                reps: a
                    .iter()
                    .enumerate()
                    .map(|(i, &(t, p99))| {
                        let v = live(
                            "kernel",
                            t / slow,
                            300.0 * slow,
                            800.0 * slow,
                            p99 * slow,
                            p99 * 2.0 * slow,
                            100.0,
                            0,
                        );
                        rep(i + 1, &v, 1, 1)
                    })
                    .collect(),
                error: None,
            });
            // b: mptfo, 120k/130k/125k tps; p99 300/330/360 µs.
            let b = [(120_000.0, 300.0), (130_000.0, 330.0), (125_000.0, 360.0)];
            scenarios.push(ScenarioResult {
                name: format!("b-{sfx}"),
                title: "mptfo loadgen -> mptfo serve, memif".into(),
                tfo,
                mptcp: true,
                client_cores: 1,
                server_cores: 1,
                reps: b
                    .iter()
                    .enumerate()
                    .map(|(i, &(t, p99))| {
                        let v = live(
                            "mptfo",
                            t / slow,
                            40.0 * slow,
                            90.0 * slow,
                            p99 * slow,
                            p99 * 1.5 * slow,
                            20.0,
                            i as u64,
                        );
                        rep(i + 1, &v, 1, 1)
                    })
                    .collect(),
                error: None,
            });
            scenarios.push(ScenarioResult {
                name: format!("e-{sfx}"),
                title: "mptfo bench (engine only)".into(),
                tfo,
                mptcp: true,
                client_cores: 1,
                server_cores: 0,
                reps: [400_000.0, 410_000.0, 390_000.0]
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| {
                        rep(
                            i + 1,
                            &bench(16_000.0 / slow, c, 1000.0 * slow, 1000.0 * slow),
                            1,
                            0,
                        )
                    })
                    .collect(),
                error: None,
            });
        }
        scenarios.push(ScenarioResult {
            name: "c-tfo".into(),
            title: "Linux client -> mptfo serve, af_xdp".into(),
            tfo: true,
            mptcp: true,
            client_cores: 1,
            server_cores: 1,
            reps: (1..=3)
                .map(|i| RepResult {
                    index: i,
                    json: PathBuf::from(format!("reps/c-tfo-{i}.json")),
                    figures: Figures::failed(
                        "mptfo serve exited with status 1: EAL: no such device",
                    ),
                })
                .collect(),
            error: None,
        });
        RunResults {
            lab: "tfo-vs-kernel".into(),
            started_utc: "2026-11-25T00:00:00Z".into(),
            machine: "testhost: 2 cores, Linux 6.18, DPDK 22.11".into(),
            scenarios,
            ratios: vec![
                RatioSpec {
                    label: "b/a transactions/s per core (goal ≥ 10)".into(),
                    numerator: "b".into(),
                    denominator: "a".into(),
                    metric: "tps_per_core".into(),
                },
                RatioSpec {
                    label: "p99 b/a (goal ≤ 0.2)".into(),
                    numerator: "b".into(),
                    denominator: "a".into(),
                    metric: "p99_last_us".into(),
                },
                RatioSpec {
                    label: "c/a transactions/s".into(),
                    numerator: "c".into(),
                    denominator: "a".into(),
                    metric: "tps".into(),
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testdata::*;
    use super::*;

    #[test]
    fn virtual_clock_takes_the_engine_rate_per_core() {
        let f =
            Figures::from_report_json(&bench(16_000.0, 400_000.0, 1000.0, 2000.0), 1, 0).unwrap();
        assert!(f.ok());
        assert_eq!(f.clock, "virtual");
        assert_eq!(f.tps, 16_000.0);
        assert_eq!(f.cores_used, 1);
        assert_eq!(f.tps_per_core, 400_000.0);
        // Declared cores do not change the engine's own per-core figure.
        let g =
            Figures::from_report_json(&bench(16_000.0, 400_000.0, 1000.0, 2000.0), 1, 1).unwrap();
        assert_eq!(g.tps_per_core, 400_000.0);
        assert_eq!(f.syn_to_synack, None, "count 0: not measured");
        assert_eq!(f.syn_to_last_byte.p99_us, 2000.0);
        assert_eq!(f.connections, 1000);
        assert_eq!(f.tfo_accepted, 999);
        assert!((f.tfo_accepted_share - 0.999).abs() < 1e-12);
        assert_eq!(
            f.load,
            "closed loop, 16 in flight, rpc 64 B -> 64 B, RTT 1 ms"
        );
        assert!(f.warnings.is_empty());
        assert_eq!(f.metric("p99_synack_us"), None);
        assert_eq!(f.metric("tps_per_core"), Some(400_000.0));
        assert_eq!(f.metric("nonsense"), None);
    }

    #[test]
    fn virtual_clock_at_rtt_0_takes_the_wall_clock_rate() {
        let mut v = bench(16_000.0, 400_000.0, 0.0, 0.0);
        v["rate"]["load_seconds"] = 0.0.into();
        v["rate"]["per_load_second"] = 0.0.into();
        v["rate"]["wall_seconds"] = 0.004.into();
        v["rate"]["per_wall_second_one_core_both_ends"] = 250_000.0.into();
        let f = Figures::from_report_json(&v, 1, 0).unwrap();
        assert_eq!((f.tps, f.seconds), (250_000.0, 0.004));
        // Timers (e.g. a short TIME_WAIT) move virtual time a little: at
        // RTT 0 that rate means nothing either.
        v["config"]["rtt_ms"] = 0.0.into();
        v["rate"]["load_seconds"] = 0.01.into();
        v["rate"]["per_load_second"] = 30_000_000.0.into();
        let f = Figures::from_report_json(&v, 1, 0).unwrap();
        assert_eq!((f.tps, f.seconds), (250_000.0, 0.004));
        assert_eq!(f.tps_per_core, 400_000.0);
        assert!(
            f.load.ends_with("(virtual time stands still at RTT 0)"),
            "{}",
            f.load
        );
    }

    #[test]
    fn wall_clock_divides_by_both_ends_cores() {
        let v = live("mptfo", 90_000.0, 40.0, 90.0, 300.0, 450.0, 20.0, 2);
        let f = Figures::from_report_json(&v, 2, 1).unwrap();
        assert_eq!(f.clock, "wall");
        assert_eq!(f.cores_used, 3);
        assert_eq!(f.tps, 90_000.0);
        assert_eq!(f.tps_per_core, 30_000.0);
        let s = f.syn_to_synack.expect("measured");
        assert_eq!((s.p50_us, s.p99_us), (20.0, 40.0));
        assert_eq!(f.fallbacks, 2);
        assert_eq!(f.retransmissions, 3);
        assert_eq!(f.errors, 2);
        assert_eq!(f.error_reasons.get("client Reset"), Some(&2));
        // The report says 1 worker core, the scenario 2.
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
        assert!(f.warnings[0].contains("1 worker cores"), "{:?}", f.warnings);
        let err = Figures::from_report_json(&v, 0, 0).unwrap_err().to_string();
        assert!(err.contains("client_cores + server_cores is 0"), "{err}");
    }

    #[test]
    fn reads_reports_without_the_newer_fields() {
        let mut v = live("mptfo", 1000.0, 40.0, 90.0, 300.0, 450.0, 20.0, 0);
        let o = v.as_object_mut().unwrap();
        for k in ["stack", "cores", "load", "intervals"] {
            o.remove(k);
        }
        o["latency"]
            .as_object_mut()
            .unwrap()
            .remove("syn_to_synack");
        let f = Figures::from_report_json(&v, 1, 1).unwrap();
        assert_eq!(f.stack, "");
        assert_eq!(f.syn_to_synack, None);
        assert_eq!(f.connections, f.started);
        assert!(f.load.starts_with("closed loop, 8 in flight"), "{}", f.load);
    }

    #[test]
    fn bad_reports_name_the_key() {
        let mut v = bench(1.0, 1.0, 1.0, 1.0);
        v["clock"] = "sundial".into();
        let e = Figures::from_report_json(&v, 1, 0).unwrap_err().to_string();
        assert!(e.contains("`clock`") && e.contains("sundial"), "{e}");
        let mut v = bench(1.0, 1.0, 1.0, 1.0);
        v["rate"]["per_load_second"] = "fast".into();
        let e = Figures::from_report_json(&v, 1, 0).unwrap_err().to_string();
        assert!(
            e.contains("`rate.per_load_second`") && e.contains("expected a number"),
            "{e}"
        );
        let mut v = bench(1.0, 1.0, 1.0, 1.0);
        v["latency"]
            .as_object_mut()
            .unwrap()
            .remove("syn_to_last_byte");
        let e = Figures::from_report_json(&v, 1, 0).unwrap_err().to_string();
        assert!(
            e.contains("`latency.syn_to_last_byte.count` is missing"),
            "{e}"
        );
        let e = Figures::from_report_json(&Value::Null, 1, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected an object"), "{e}");
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 4.0, 4));
        let s = Spread::of(&[7.0, f64::NAN]).unwrap();
        assert_eq!((s.median, s.n), (7.0, 1));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn scenario_spreads_skip_failed_reps() {
        let r = run();
        let a = &r.scenarios[0];
        assert_eq!(a.name, "a-tfo");
        assert_eq!(a.base_name(), "a");
        let tps = a.metric("tps").unwrap();
        assert_eq!(
            (tps.median, tps.min, tps.max),
            (11_000.0, 10_000.0, 12_000.0)
        );
        let pc = a.metric("tps_per_core").unwrap();
        assert_eq!(pc.median, 5_500.0);
        let p99 = a.metric("p99_last_us").unwrap();
        assert_eq!((p99.median, p99.min, p99.max), (2200.0, 2000.0, 2400.0));
        let e = &r.scenarios[2];
        assert_eq!(e.metric("tps_per_core").unwrap().median, 400_000.0);
        let mut b = r.scenarios[1].clone();
        b.reps[1].figures = Figures::failed("killed");
        // Two left: 120k and 125k -> the mean of the two.
        let tps = b.metric("tps").unwrap();
        assert_eq!((tps.median, tps.n), (122_500.0, 2));
        let c = r.scenarios.iter().find(|s| s.name == "c-tfo").unwrap();
        assert_eq!(c.metric("tps"), None);
        let why = c.no_figures_reason().unwrap();
        assert_eq!(
            why,
            "reps 1, 2, 3: mptfo serve exited with status 1: EAL: no such device"
        );
        let mut c = c.clone();
        c.reps[1].figures = Figures::failed("timed out");
        assert_eq!(
            c.no_figures_reason().unwrap(),
            "reps 1, 3: mptfo serve exited with status 1: EAL: no such device; rep 2: timed out"
        );
        c.reps.clear();
        assert_eq!(c.no_figures_reason().unwrap(), "no repetitions ran");
        c.error = Some("setup failed: veth".into());
        assert_eq!(c.no_figures_reason().unwrap(), "setup failed: veth");
    }

    #[test]
    fn ratios_from_medians_per_tfo_setting() {
        let r = run();
        let v = r.ratios[0].compute(&r.scenarios);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].tfo, v[1].tfo), (Some(true), Some(false)));
        assert_eq!(
            (v[1].numerator.as_str(), v[1].denominator.as_str()),
            ("b-notfo", "a-notfo")
        );
        // b/a per core: 62.5k / 5.5k, the same with TFO off (both / 1.5).
        let x = *v[0].value.as_ref().unwrap();
        assert!((x - 125_000.0 / 11_000.0).abs() < 1e-9, "{x}");
        let y = *v[1].value.as_ref().unwrap();
        assert!((y - x).abs() < 1e-9);
        assert_eq!(r.ratios[0].goal(), Some(Goal::AtLeast(10.0)));
        assert!(r.ratios[0].goal().unwrap().met(x));
        let p = r.ratios[1].compute(&r.scenarios);
        let x = *p[0].value.as_ref().unwrap();
        assert!((x - 330.0 / 2200.0).abs() < 1e-9, "{x}");
        assert_eq!(r.ratios[1].goal(), Some(Goal::AtMost(0.2)));
        // What TFO changes: matrix points named directly.
        let spec = RatioSpec {
            label: "a p99 TFO on/off".into(),
            numerator: "a-tfo".into(),
            denominator: "a-notfo".into(),
            metric: "p99_last_us".into(),
        };
        let v = spec.compute(&r.scenarios);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].tfo, None);
        let x = *v[0].value.as_ref().unwrap();
        assert!((x - 2200.0 / 3300.0).abs() < 1e-9, "{x}");
        // One matrix point and one scenario: nothing in common.
        let spec = RatioSpec {
            denominator: "a".into(),
            ..spec
        };
        assert!(spec.compute(&r.scenarios).is_empty());
        // c has TFO on only, and no figures.
        let c = r.ratios[2].compute(&r.scenarios);
        assert_eq!(c.len(), 1);
        let e = c[0].value.as_ref().unwrap_err();
        assert!(e.contains("c-tfo has no figures"), "{e}");
    }

    #[test]
    fn goals_and_metric_names() {
        let spec = |label: &str, metric: &str| RatioSpec {
            label: label.into(),
            numerator: "b".into(),
            denominator: "a".into(),
            metric: metric.into(),
        };
        assert_eq!(
            spec("x (goal >= 2.5)", "tps").goal(),
            Some(Goal::AtLeast(2.5))
        );
        assert_eq!(
            spec("x (goal <= 0.2)", "tps").goal(),
            Some(Goal::AtMost(0.2))
        );
        assert_eq!(
            spec("x, goal ≤ 1e-1.", "tps").goal(),
            Some(Goal::AtMost(0.1))
        );
        assert_eq!(spec("x", "tps").goal(), None);
        assert_eq!(spec("goal: fast", "tps").goal(), None);
        assert!(spec("x", "p99_last_us").check().is_ok());
        let e = spec("x", "p42").check().unwrap_err().to_string();
        assert!(e.contains("\"p42\"") && e.contains("tps_per_core"), "{e}");
    }

    #[test]
    fn intervals_read_from_the_report() {
        let mut v = live("kernel", 1000.0, 40.0, 90.0, 300.0, 450.0, 20.0, 0);
        v["intervals"] = serde_json::json!([
            {"t_s": 1.0, "len_s": 1.0, "connections_per_s": 900.0, "requests_per_s": 1000.0,
             "tfo_accepted": 900, "fallbacks": 0, "retransmissions": 0, "errors": 0},
            {"t_s": 2.0, "len_s": 1.0, "connections_per_s": 950.0, "requests_per_s": 1100.0,
             "tfo_accepted": 950, "fallbacks": 0, "retransmissions": 0, "errors": 0}
        ]);
        let f = Figures::from_report_json(&v, 1, 1).unwrap();
        assert_eq!(
            f.intervals,
            [
                Progress {
                    t_s: 1.0,
                    len_s: 1.0,
                    requests_per_s: 1000.0,
                    connections_per_s: 900.0
                },
                Progress {
                    t_s: 2.0,
                    len_s: 1.0,
                    requests_per_s: 1100.0,
                    connections_per_s: 950.0
                }
            ]
        );
        assert_eq!(f.connections, f.started, "one request per connection");
        // Keep-alive: 1850 connections opened by the intervals, fewer than
        // the 2000 transactions started over 100 per connection suggest.
        let mut k = v.clone();
        k["load"]["requests_per_connection"] = 100.into();
        k["started"] = 200_000.into();
        let f = Figures::from_report_json(&k, 1, 1).unwrap();
        assert_eq!(f.connections, 1850);
        k["intervals"] = serde_json::json!([]);
        let f = Figures::from_report_json(&k, 1, 1).unwrap();
        assert_eq!(f.connections, 2000);
        v["intervals"][1]["requests_per_s"] = "many".into();
        let e = Figures::from_report_json(&v, 1, 1).unwrap_err().to_string();
        assert_eq!(
            e,
            "report JSON: `intervals[1].requests_per_s` is \"many\", expected a number of 0 or more"
        );
        v["intervals"][1].as_object_mut().unwrap().remove("t_s");
        let e = Figures::from_report_json(&v, 1, 1).unwrap_err().to_string();
        assert!(e.contains("`intervals[1].t_s` is missing"), "{e}");
        v["intervals"] = 3.into();
        let e = Figures::from_report_json(&v, 1, 1).unwrap_err().to_string();
        assert!(e.contains("`intervals` is 3, expected an array"), "{e}");
        // Results written before intervals and MPTCP settings existed.
        let mut old = serde_json::to_value(&run().scenarios[0]).unwrap();
        old.as_object_mut().unwrap().remove("mptcp");
        for rep in old["reps"].as_array_mut().unwrap() {
            rep["figures"].as_object_mut().unwrap().remove("intervals");
        }
        let back: ScenarioResult = serde_json::from_value(old).unwrap();
        assert!(back.mptcp);
        assert!(back.reps[0].figures.intervals.is_empty());
    }

    #[test]
    fn mptcp_off_points_have_their_own_ratios() {
        let mut r = run();
        // a-tfo-tcp and b-tfo-tcp: the TFO-on points again, MPTCP off,
        // b at half its rate.
        for base in ["a", "b"] {
            let mut s = r
                .scenarios
                .iter()
                .find(|s| s.name == format!("{base}-tfo"))
                .unwrap()
                .clone();
            s.name = format!("{base}-tfo-tcp");
            s.mptcp = false;
            if base == "b" {
                for rep in &mut s.reps {
                    rep.figures.tps_per_core /= 2.0;
                }
            }
            r.scenarios.push(s);
        }
        let tcp = r.scenarios.last().unwrap();
        assert_eq!(tcp.base_name(), "b");
        assert_eq!(tcp.setting(), "TFO on, MPTCP off");
        assert_eq!(r.scenarios[0].setting(), "TFO on");
        // A name that does not follow the pattern is its own base.
        let mut odd = tcp.clone();
        odd.name = "b-tcp".into();
        assert_eq!(odd.base_name(), "b-tcp");
        let v = r.ratios[0].compute(&r.scenarios);
        let settings: Vec<(Option<bool>, Option<bool>)> =
            v.iter().map(|x| (x.tfo, x.mptcp)).collect();
        assert_eq!(
            settings,
            [
                (Some(true), Some(true)),
                (Some(true), Some(false)),
                (Some(false), Some(true))
            ]
        );
        assert_eq!(
            (v[1].numerator.as_str(), v[1].denominator.as_str()),
            ("b-tfo-tcp", "a-tfo-tcp")
        );
        let on = *v[0].value.as_ref().unwrap();
        let off = *v[1].value.as_ref().unwrap();
        assert!((off - on / 2.0).abs() < 1e-9, "{on} {off}");
    }

    #[test]
    fn results_round_trip_through_json() {
        let r = run();
        let text = serde_json::to_string(&r).unwrap();
        let back: RunResults = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}

/// The figures of real `mptfo bench` runs (mem link, virtual time).
#[cfg(test)]
mod bench_tests {
    use super::*;
    use mptfo_bench::mem::{run, BenchConfig};
    use std::time::Duration;

    fn figures(tfo: bool, seed: u64) -> Figures {
        let cfg = BenchConfig {
            duration: None,
            transactions: Some(200),
            concurrency: 8,
            tfo,
            rtt: Duration::from_millis(1),
            seed,
            ..BenchConfig::default()
        };
        let outcome = run(&cfg).expect("bench runs");
        let v: Value = serde_json::from_str(&outcome.report().to_json()).unwrap();
        Figures::from_report_json(&v, 1, 0).unwrap()
    }

    #[test]
    fn tfo_takes_one_round_trip_off_in_a_real_bench_run() {
        let mut scenarios = Vec::new();
        for tfo in [true, false] {
            let reps = (1..=3)
                .map(|i| RepResult {
                    index: i,
                    json: PathBuf::from(format!("e/{i}.json")),
                    figures: figures(tfo, i as u64),
                })
                .collect();
            scenarios.push(ScenarioResult {
                name: format!("e-{}", if tfo { "tfo" } else { "notfo" }),
                title: "mptfo bench".into(),
                tfo,
                mptcp: true,
                client_cores: 1,
                server_cores: 0,
                reps,
                error: None,
            });
        }
        for s in &scenarios {
            for f in s.ok_figures() {
                assert_eq!(f.clock, "virtual");
                assert_eq!(f.transactions, 200);
                assert_eq!(f.cores_used, 1);
                assert!(f.tps_per_core > 0.0 && f.tps > 0.0, "{f:?}");
                assert_eq!(f.errors, 0, "{f:?}");
                assert!(f.warnings.is_empty(), "{:?}", f.warnings);
            }
        }
        let on = scenarios[0].metric("p50_last_us").unwrap();
        let off = scenarios[1].metric("p50_last_us").unwrap();
        // With TFO the reply comes one RTT after the SYN, without two.
        assert_eq!(on.median, 1000.0, "{on:?}");
        assert_eq!(off.median, 2000.0, "{off:?}");
        let share_on = scenarios[0].metric("tfo_accepted_share").unwrap();
        let share_off = scenarios[1].metric("tfo_accepted_share").unwrap();
        // The first connection of each run asks for the cookie.
        assert!(
            share_on.min >= 199.0 / 200.0 && share_on.max < 1.0,
            "{share_on:?}"
        );
        assert_eq!(share_off.max, 0.0);
    }
}
