//! The report of a `mptfo lab run`: `report.md` (machine, scenarios, the
//! comparison table, the ratios, plots, every repetition and what went
//! wrong), `results.json` (the [`RunResults`]) and the plots
//! `throughput.svg/.png`, `latency.svg/.png` and `progress.svg/.png`
//! (requests/s second by second, one line per matrix point), all in the
//! run folder.
//!
//! Every figure of the comparison is the median over a matrix point's
//! successful repetitions (the mean of the two middle values for an even
//! count), followed by `[min–max]` where the repetitions differ. Failed
//! repetitions are listed with their error and count in no median.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::plot::{self, Bar, BarChart, Line, LineChart, Series, Slot, Unit};
use crate::results::{RatioSpec, RatioValue, RunResults, ScenarioResult, Spread, METRICS};

/// Colours of the TFO on / off series.
const TFO_ON: &str = "#2b7bba";
const TFO_OFF: &str = "#f28e2b";
/// Colours of the TFO on / off series without MPTCP.
const TFO_ON_TCP: &str = "#8fc3e8";
const TFO_OFF_TCP: &str = "#f9c48f";
/// Colours of the lines of the progress plot, in turn.
const LINE_COLORS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];
/// Colours of the p50, p90, p99, p99.9 series.
const PCT_COLORS: [&str; 4] = ["#a6cee3", "#4f9bd0", "#1f5fa0", "#0b2a55"];

/// A table rendered as Markdown or as aligned text.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut o = String::new();
        let line = |o: &mut String, cells: &[String]| {
            o.push('|');
            for c in cells {
                let _ = write!(o, " {} |", cell(c));
            }
            o.push('\n');
        };
        line(&mut o, &self.head);
        o.push('|');
        for _ in &self.head {
            o.push_str(" --- |");
        }
        o.push('\n');
        for r in &self.rows {
            line(&mut o, r);
        }
        o
    }

    fn text(&self) -> String {
        let n = self.head.len();
        let mut w = vec![0usize; n];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut o = String::new();
        for r in std::iter::once(&self.head).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(n) {
                let pad = w[i] - c.chars().count();
                if i == 0 {
                    line.push_str(c);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(c);
                }
            }
            o.push_str(line.trim_end());
            o.push('\n');
        }
        o
    }
}

/// `v` with at most 3 significant digits; below 0.01, in scientific
/// notation (`1.23e-3`).
fn sig3(v: f64) -> String {
    let a = v.abs();
    if a > 0.0 && a < 0.01 {
        format!("{v:.2e}")
    } else {
        plot::sig3(v)
    }
}

/// A spread as "median [min–max]", the range left out where all values
/// are equal; "—" when there is none.
fn spread_with(s: Option<Spread>, f: impl Fn(f64) -> String, suffix: &str) -> String {
    match s {
        None => "—".into(),
        Some(s) => {
            let (lo, hi) = (f(s.min), f(s.max));
            if lo == hi {
                format!("{}{suffix}", f(s.median))
            } else {
                format!("{}{suffix} [{lo}–{hi}]", f(s.median))
            }
        }
    }
}

/// A rate: "128k [120k–131k]".
fn rate(s: Option<Spread>) -> String {
    spread_with(s, |v| plot::format_value(v, Unit::Count), "")
}

/// A latency in the unit of its median: "1.2 ms [1.1–1.5]".
fn latency(s: Option<Spread>) -> String {
    let Some(m) = s.map(|s| s.median) else {
        return "—".into();
    };
    let (div, unit) = if m >= 1e6 {
        (1e6, " s")
    } else if m >= 1e3 {
        (1e3, " ms")
    } else {
        (1.0, " µs")
    };
    spread_with(s, |v| sig3(v / div), unit)
}

/// A count: "3", "2.5 [0–7]".
fn count(s: Option<Spread>) -> String {
    spread_with(
        s,
        |v| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        },
        "",
    )
}

/// A share as a percentage, rounded down so that 100 % means all: "99.99 %".
fn percent(v: f64) -> String {
    format!("{:.2}", (v * 10_000.0).floor() / 100.0)
}

/// A share as a percentage: "99.99 %".
fn share(s: Option<Spread>) -> String {
    spread_with(s, percent, " %")
}

fn onoff(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn reps_ok(s: &ScenarioResult) -> String {
    format!("{}/{}", s.ok_figures().count(), s.reps.len())
}

/// Headers of the comparison table.
const FULL_HEAD: [&str; 15] = [
    "scenario",
    "TFO",
    "reps ok",
    "transactions/s",
    "transactions/s per core",
    "SYN→last p50",
    "SYN→last p90",
    "SYN→last p99",
    "SYN→last p99.9",
    "SYN→SYN/ACK p50",
    "SYN→SYN/ACK p99",
    "TFO accepted",
    "fallbacks",
    "retransmissions",
    "errors",
];

/// The same, short, for a terminal.
const BRIEF_HEAD: [&str; 15] = [
    "scenario",
    "TFO",
    "reps",
    "tps",
    "tps/core",
    "last p50",
    "p90",
    "p99",
    "p99.9",
    "synack p50",
    "p99",
    "TFO acc",
    "fallbk",
    "retrans",
    "errors",
];

/// What the short headers mean.
const BRIEF_LEGEND: &str = "tps: transactions/s; tps/core: per client + server core; last: SYN -> last reply byte; synack: SYN -> SYN/ACK; TFO acc: SYN data accepted per connection";

/// The comparison table: one row per matrix point.
///
/// A matrix point without figures says why in its transactions/s cell;
/// with `brief` (a terminal), only "FAILED (below)", and the headers are
/// short (see [`BRIEF_LEGEND`]).
fn comparison(r: &RunResults, brief: bool) -> Table {
    let mut t = Table::new(if brief { &BRIEF_HEAD } else { &FULL_HEAD });
    for s in &r.scenarios {
        let mut row = vec![s.name.clone(), onoff(s.tfo).into(), reps_ok(s)];
        if let Some(why) = s.no_figures_reason() {
            row.push(if brief {
                "FAILED (below)".into()
            } else {
                format!("FAILED: {why}")
            });
            row.extend(std::iter::repeat_n("—".to_string(), 11));
        } else {
            row.push(rate(s.metric("tps")));
            row.push(rate(s.metric("tps_per_core")));
            row.push(latency(s.metric("p50_last_us")));
            row.push(latency(s.metric("p90_last_us")));
            row.push(latency(s.metric("p99_last_us")));
            row.push(latency(s.metric("p999_last_us")));
            row.push(latency(s.metric("p50_synack_us")));
            row.push(latency(s.metric("p99_synack_us")));
            row.push(share(s.metric("tfo_accepted_share")));
            row.push(count(s.spread(|f| Some(f.fallbacks as f64))));
            row.push(count(s.spread(|f| Some(f.retransmissions as f64))));
            row.push(count(s.spread(|f| Some(f.errors as f64))));
        }
        t.rows.push(row);
    }
    t
}

fn metric_name(metric: &str) -> &str {
    METRICS
        .iter()
        .find(|(m, _)| *m == metric)
        .map_or(metric, |(_, d)| d)
}

/// The ratio lines: "label, TFO on: 12.3x (b 1.2M / a 98k) — goal met".
fn ratio_lines(r: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    for spec in &r.ratios {
        if let Err(e) = spec.check() {
            out.push(format!("{}: {e:#}", spec.label));
            continue;
        }
        let values = spec.compute(&r.scenarios);
        if values.is_empty() {
            out.push(format!(
                "{}: no matrix point (TFO and MPTCP setting) was run for both {:?} and {:?}",
                spec.label, spec.numerator, spec.denominator
            ));
            continue;
        }
        for v in values {
            out.push(ratio_line(spec, &r.scenarios, &v));
        }
    }
    out
}

fn ratio_line(spec: &RatioSpec, scenarios: &[ScenarioResult], v: &RatioValue) -> String {
    let head = match (v.tfo, v.mptcp) {
        (Some(tfo), Some(false)) => format!("{}, TFO {}, MPTCP off", spec.label, onoff(tfo)),
        (Some(tfo), _) => format!("{}, TFO {}", spec.label, onoff(tfo)),
        (None, _) => spec.label.clone(),
    };
    match &v.value {
        Err(why) => format!("{head}: no ratio: {why}"),
        Ok(x) => {
            let is_rate = matches!(spec.metric.as_str(), "tps" | "tps_per_core");
            let shown = if is_rate {
                format!("{}x", sig3(*x))
            } else {
                sig3(*x)
            };
            let med = |name: &str| {
                scenarios
                    .iter()
                    .find(|s| s.name == name)
                    .and_then(|s| s.metric(&spec.metric))
                    .map(|sp| {
                        if spec.metric.ends_with("_us") {
                            plot::format_value(sp.median, Unit::Micros)
                        } else if spec.metric == "tfo_accepted_share" {
                            format!("{} %", percent(sp.median))
                        } else {
                            plot::format_value(sp.median, Unit::Count)
                        }
                    })
                    .unwrap_or_default()
            };
            let goal = match spec.goal() {
                Some(g) if g.met(*x) => " — goal met",
                Some(_) => " — goal NOT met",
                None => "",
            };
            format!(
                "{head}: {shown} ({} {} {} / {} {}){goal}",
                metric_name(&spec.metric),
                v.numerator,
                med(&v.numerator),
                v.denominator,
                med(&v.denominator)
            )
        }
    }
}

/// The comparison table and the ratio lines, as text for a terminal.
pub fn summary_text(r: &RunResults) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "mptfo lab run {} ({} UTC)", r.lab, r.started_utc);
    let _ = writeln!(
        o,
        "median [min–max] over the successful repetitions\n{BRIEF_LEGEND}"
    );
    o.push_str(&comparison(r, true).text());
    if r.scenarios.iter().any(|s| s.no_figures_reason().is_some()) {
        o.push('\n');
    }
    for sc in &r.scenarios {
        if let Some(why) = sc.no_figures_reason() {
            let _ = writeln!(o, "{} FAILED: {why}", sc.name);
        }
    }
    let ratios = ratio_lines(r);
    if !ratios.is_empty() {
        o.push('\n');
        for l in ratios {
            let _ = writeln!(o, "{l}");
        }
    }
    o
}

/// The slot of a matrix point's metric in a chart: its bar; "failed"
/// when it has no figures; "n/a" when it has figures but not this one;
/// nothing when the matrix point was not run.
fn slot(s: Option<&ScenarioResult>, metric: &str) -> Slot {
    let Some(s) = s else {
        return Slot::Empty;
    };
    match s.metric(metric) {
        Some(sp) => Slot::Bar(Bar {
            median: sp.median,
            min: sp.min,
            max: sp.max,
        }),
        None if s.no_figures_reason().is_some() => Slot::Note(plot::FAILED.into()),
        None => Slot::Note("n/a".into()),
    }
}

/// Scenario names without the TFO suffix, in run order, each once.
fn base_names(r: &RunResults) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for s in &r.scenarios {
        if !v.contains(&s.base_name()) {
            v.push(s.base_name());
        }
    }
    v
}

/// The throughput charts: transactions/s and per core, TFO on and off
/// side by side per scenario.
fn throughput_charts(r: &RunResults) -> Vec<BarChart> {
    let names = base_names(r);
    let categories: Vec<String> = names
        .iter()
        .map(|n| {
            let title = r
                .scenarios
                .iter()
                .find(|s| s.base_name() == *n)
                .map_or("", |s| s.title.as_str());
            if title.is_empty() {
                n.to_string()
            } else {
                format!("{n}: {title}")
            }
        })
        .collect();
    let chart = |metric: &str, title: &str, y_label: &str| {
        let mut series = Vec::new();
        for (tfo, mptcp) in [(true, true), (false, true), (true, false), (false, false)] {
            if !r.scenarios.iter().any(|s| s.tfo == tfo && s.mptcp == mptcp) {
                continue;
            }
            let bars = names
                .iter()
                .map(|n| {
                    let sc = r
                        .scenarios
                        .iter()
                        .find(|s| s.tfo == tfo && s.mptcp == mptcp && s.base_name() == *n);
                    slot(sc, metric)
                })
                .collect();
            series.push(Series {
                name: format!(
                    "TFO {}{}",
                    onoff(tfo),
                    if mptcp { "" } else { ", MPTCP off" }
                ),
                color: match (tfo, mptcp) {
                    (true, true) => TFO_ON,
                    (false, true) => TFO_OFF,
                    (true, false) => TFO_ON_TCP,
                    (false, false) => TFO_OFF_TCP,
                }
                .into(),
                bars,
            });
        }
        BarChart {
            title: title.into(),
            y_label: y_label.into(),
            unit: Unit::Count,
            log: false,
            categories: categories.clone(),
            series,
            value_labels: true,
        }
    };
    vec![
        chart(
            "tps",
            "Throughput per scenario (median; whiskers: min–max over repetitions)",
            "transactions/s",
        ),
        chart(
            "tps_per_core",
            "Throughput per core (client + server cores)",
            "transactions/s per core",
        ),
    ]
}

/// The latency charts: SYN -> last byte p50/p90/p99/p99.9 per matrix
/// point (log scale), and SYN -> SYN/ACK p50/p99 where measured.
fn latency_charts(r: &RunResults) -> Vec<BarChart> {
    let categories: Vec<String> = r.scenarios.iter().map(|s| s.name.clone()).collect();
    let chart = |title: &str, y_label: &str, metrics: &[(&str, &str, &str)]| BarChart {
        title: title.into(),
        y_label: y_label.into(),
        unit: Unit::Micros,
        log: true,
        categories: categories.clone(),
        series: metrics
            .iter()
            .map(|(m, name, color)| Series {
                name: (*name).into(),
                color: (*color).into(),
                bars: r.scenarios.iter().map(|s| slot(Some(s), m)).collect(),
            })
            .collect(),
        value_labels: false,
    };
    let mut charts = vec![chart(
        "Latency SYN → last reply byte (median of each percentile; whiskers: min–max)",
        "SYN → last byte, log scale",
        &[
            ("p50_last_us", "p50", PCT_COLORS[0]),
            ("p90_last_us", "p90", PCT_COLORS[1]),
            ("p99_last_us", "p99", PCT_COLORS[2]),
            ("p999_last_us", "p99.9", PCT_COLORS[3]),
        ],
    )];
    if r.scenarios
        .iter()
        .any(|s| s.metric("p50_synack_us").is_some())
    {
        charts.push(chart(
            "Latency SYN → SYN/ACK (client)",
            "SYN → SYN/ACK, log scale",
            &[
                ("p50_synack_us", "p50", PCT_COLORS[0]),
                ("p99_synack_us", "p99", PCT_COLORS[2]),
            ],
        ));
    }
    charts
}

/// The progress plot: requests/s interval by interval, one line per
/// matrix point, from its first successful repetition, drawn as steps
/// (each interval's rate over the interval's time); matrix points without
/// intervals (`mptfo bench`) are left out. `None` when none has any.
fn progress_chart(r: &RunResults) -> Option<LineChart> {
    let lines: Vec<Line> = r
        .scenarios
        .iter()
        .filter_map(|s| {
            let rep = s.reps.iter().find(|rep| rep.figures.ok())?;
            if rep.figures.intervals.is_empty() {
                return None;
            }
            let name = if rep.index == 1 {
                s.name.clone()
            } else {
                format!("{} (rep {})", s.name, rep.index)
            };
            Some((name, &rep.figures.intervals))
        })
        .enumerate()
        .map(|(i, (name, iv))| Line {
            name,
            color: LINE_COLORS[i % LINE_COLORS.len()].into(),
            points: iv
                .iter()
                .flat_map(|p| {
                    let from = (p.t_s - p.len_s).max(0.0);
                    [(from, p.requests_per_s), (p.t_s, p.requests_per_s)]
                })
                .collect(),
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(LineChart {
        title: "Requests/s over the run (first repetition; per interval)".into(),
        x_label: "seconds since the load started".into(),
        y_label: "requests/s (transactions/s)".into(),
        unit: Unit::Count,
        x_unit: Unit::Count,
        lines,
        dots: false,
    })
}

/// The Markdown report.
fn markdown(r: &RunResults, plots: &[(&str, &str, Option<String>)]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# mptfo lab run: {}\n", r.lab);
    let _ = writeln!(o, "- Started: {} (UTC)", r.started_utc);
    let _ = writeln!(o, "- Machine: {}", r.machine.trim().replace('\n', "; "));
    let reps: Vec<usize> = r.scenarios.iter().map(|s| s.reps.len()).collect();
    let (lo, hi) = (
        reps.iter().min().copied().unwrap_or(0),
        reps.iter().max().copied().unwrap_or(0),
    );
    let reps = if lo == hi {
        format!("{lo}")
    } else {
        format!("{lo} to {hi}")
    };
    let _ = writeln!(
        o,
        "- {} matrix points (scenario × TFO setting × MPTCP setting), {reps} repetitions each",
        r.scenarios.len()
    );
    o.push_str(
        "- Figures are the median over the successful repetitions (the mean of the two middle \
         values for an even count), with [min–max] where the repetitions differ.\n\
         - Per core: transactions/s divided by the client + server cores of the scenario \
         (both ends run on this machine); for a virtual-time run (`mptfo bench`, both ends \
         on one core) transactions per CPU-second of that core.\n\
         - Latencies are on the run's clock: wall clock for live runs, virtual time for \
         `mptfo bench`. TFO accepted: SYNs whose data the server accepted, per connection opened.\n\n",
    );

    o.push_str("## Scenarios\n\n");
    let mut t = Table::new(&[
        "scenario",
        "TFO",
        "what",
        "cores (client + server)",
        "stack",
        "clock",
        "load",
        "reps ok",
    ]);
    for s in &r.scenarios {
        let first = s.ok_figures().next();
        t.rows.push(vec![
            s.name.clone(),
            onoff(s.tfo).into(),
            s.title.clone(),
            format!("{} + {}", s.client_cores, s.server_cores),
            first.map_or("—".into(), |f| f.stack.clone()),
            first.map_or("—".into(), |f| f.clock.clone()),
            first.map_or("—".into(), |f| f.load.clone()),
            reps_ok(s),
        ]);
    }
    o.push_str(&t.markdown());

    o.push_str("\n## Comparison\n\n");
    o.push_str(&comparison(r, false).markdown());

    let ratios = ratio_lines(r);
    if !ratios.is_empty() {
        o.push_str("\n## Ratios (from medians)\n\n");
        for l in ratios {
            let _ = writeln!(o, "- {l}");
        }
    }

    o.push_str("\n## Plots\n\n");
    for (stem, title, png_failure) in plots {
        match png_failure {
            None => {
                let _ = writeln!(o, "![{title}]({stem}.png)\n\n([SVG]({stem}.svg))\n");
            }
            Some(why) => {
                let _ = writeln!(o, "![{title}]({stem}.svg)\n\n(no PNG: {why})\n");
            }
        }
    }

    o.push_str("## Repetitions\n");
    for s in &r.scenarios {
        let _ = writeln!(
            o,
            "\n### {} ({}){}\n",
            s.name,
            s.setting(),
            if s.title.is_empty() {
                String::new()
            } else {
                format!(": {}", s.title)
            }
        );
        if let Some(e) = &s.error {
            let _ = writeln!(o, "Scenario error: {}\n", e.replace('\n', " "));
        }
        if s.reps.is_empty() {
            o.push_str("No repetition ran.\n");
            continue;
        }
        let mut t = Table::new(&[
            "rep",
            "report",
            "transactions",
            "seconds",
            "transactions/s",
            "per core",
            "SYN→last p50",
            "SYN→last p99",
            "SYN→last p99.9",
            "TFO accepted",
            "fallbacks",
            "retransmissions",
            "errors",
            "notes",
        ]);
        for rep in &s.reps {
            let f = &rep.figures;
            let json = format!("[{0}]({0})", rep.json.display());
            if let Some(why) = &f.failure {
                let mut row = vec![rep.index.to_string(), json];
                row.extend(std::iter::repeat_n("—".to_string(), 11));
                row.push(format!("FAILED: {why}"));
                t.rows.push(row);
                continue;
            }
            let one = |v: f64| {
                Some(Spread {
                    median: v,
                    min: v,
                    max: v,
                    n: 1,
                })
            };
            let mut notes: Vec<String> = f.warnings.clone();
            if !f.error_reasons.is_empty() {
                let list: Vec<String> = f
                    .error_reasons
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect();
                notes.push(format!("errors: {}", list.join(", ")));
            }
            t.rows.push(vec![
                rep.index.to_string(),
                json,
                f.transactions.to_string(),
                format!("{:.3}", f.seconds),
                rate(one(f.tps)),
                rate(one(f.tps_per_core)),
                latency(one(f.syn_to_last_byte.p50_us)),
                latency(one(f.syn_to_last_byte.p99_us)),
                latency(one(f.syn_to_last_byte.p999_us)),
                format!(
                    "{} of {} ({} %)",
                    f.tfo_accepted,
                    f.connections,
                    percent(f.tfo_accepted_share)
                ),
                f.fallbacks.to_string(),
                f.retransmissions.to_string(),
                f.errors.to_string(),
                notes.join("; "),
            ]);
        }
        o.push_str(&t.markdown());
        if let Some(f) = s.ok_figures().next() {
            if !f.setup.is_empty() {
                let _ = writeln!(o, "\nSetup: {}", f.setup);
            }
        }
    }

    let problems: Vec<String> = r
        .scenarios
        .iter()
        .flat_map(|s| {
            let mut v = Vec::new();
            if let Some(e) = &s.error {
                v.push(format!("{}: {}", s.name, e));
            }
            for rep in &s.reps {
                if let Some(why) = &rep.figures.failure {
                    v.push(format!("{} rep {}: failed: {why}", s.name, rep.index));
                }
                for w in &rep.figures.warnings {
                    v.push(format!("{} rep {}: {w}", s.name, rep.index));
                }
                if rep.figures.ok() && rep.figures.errors > 0 {
                    let reasons: Vec<String> = rep
                        .figures
                        .error_reasons
                        .iter()
                        .map(|(k, n)| format!("{k}: {n}"))
                        .collect();
                    v.push(format!(
                        "{} rep {}: errors {}{}",
                        s.name,
                        rep.index,
                        rep.figures.errors,
                        if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", reasons.join(", "))
                        }
                    ));
                }
            }
            v
        })
        .collect();
    o.push_str("\n## Errors and warnings\n\n");
    if problems.is_empty() {
        o.push_str("None.\n");
    } else {
        for p in problems {
            let _ = writeln!(o, "- {}", p.replace('\n', " "));
        }
    }
    o
}

/// Writes `report.md`, `results.json` and the plots (`throughput`,
/// `latency` and, when a matrix point reported intervals, `progress`, each
/// `.svg` and `.png`) into `run_dir`, and returns the path
/// of `report.md`. A PNG that cannot be made (no font) is named in the
/// report; the SVG is written regardless.
pub fn write_report(run_dir: &Path, r: &RunResults) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("creating the run folder {}", run_dir.display()))?;
    let json = serde_json::to_string_pretty(r).context("serialising the results")?;
    let json_path = run_dir.join("results.json");
    std::fs::write(&json_path, json + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let throughput = plot::write_svg_png(run_dir, "throughput", &throughput_charts(r))?;
    let latency = plot::write_svg_png(run_dir, "latency", &latency_charts(r))?;
    let mut plots = vec![
        ("throughput", "Throughput per scenario", throughput),
        ("latency", "Latency percentiles per scenario", latency),
    ];
    if let Some(chart) = progress_chart(r) {
        let progress = plot::write_line_svg_png(run_dir, "progress", &chart)?;
        plots.push(("progress", "Requests/s second by second", progress));
    }
    let md = markdown(r, &plots);
    let path = run_dir.join("report.md");
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::testdata::run;
    use crate::results::Figures;

    /// A fresh folder for one test's report; `MPTFO_TEST_REPORT_DIR`
    /// puts it there instead (and keeps it, for a look at the plots).
    fn out_dir(name: &str) -> (PathBuf, bool) {
        match std::env::var_os("MPTFO_TEST_REPORT_DIR") {
            Some(d) => (PathBuf::from(d).join(name), true),
            None => {
                let d = std::env::temp_dir()
                    .join(format!("mptfo-deploy-test-{}-{name}", std::process::id()));
                let _ = std::fs::remove_dir_all(&d);
                (d, false)
            }
        }
    }

    fn row<'a>(md: &'a str, first: &str) -> Vec<&'a str> {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {first} |")))
            .unwrap_or_else(|| panic!("no row {first} in\n{md}"));
        line.trim_matches('|').split(" | ").map(str::trim).collect()
    }

    #[test]
    fn comparison_table_shows_medians_spreads_and_failures() {
        let r = run();
        let md = comparison(&r, false).markdown();
        assert!(
            md.starts_with("| scenario | TFO | reps ok | transactions/s |"),
            "{md}"
        );
        let a = row(&md, "a-tfo");
        assert_eq!(a[1], "on");
        assert_eq!(a[2], "3/3");
        assert_eq!(a[3], "11k [10k–12k]");
        assert_eq!(a[4], "5.5k [5k–6k]");
        assert_eq!(a[5], "300 µs"); // all equal: no range
        assert_eq!(a[7], "2.2 ms [2–2.4]");
        assert_eq!(a[8], "4.4 ms [4–4.8]");
        assert_eq!(a[9], "100 µs");
        assert_eq!(a[10], "200 µs");
        assert_eq!(a[11], "99.99 %");
        assert_eq!(a[12], "2");
        let b = row(&md, "b-tfo");
        assert_eq!(b[3], "125k [120k–130k]");
        assert_eq!(b[14], "1 [0–2]");
        let e = row(&md, "e-tfo");
        assert_eq!(e[4], "400k [390k–410k]");
        assert_eq!(e[9], "—", "the bench has no SYN->SYN/ACK");
        assert_eq!(e[11], "99.90 %");
        let c = row(&md, "c-tfo");
        assert_eq!(c[2], "0/3");
        assert!(
            c[3] == "FAILED: reps 1, 2, 3: mptfo serve exited with status 1: EAL: no such device",
            "{}",
            c[3]
        );
        assert_eq!(c.len(), 15);
    }

    #[test]
    fn even_repetition_counts_take_the_middle_mean() {
        let mut r = run();
        let b = &mut r.scenarios[1];
        b.reps[2].figures = Figures::failed("loadgen timed out");
        let md = comparison(&r, false).markdown();
        let b = row(&md, "b-tfo");
        assert_eq!(b[2], "2/3");
        assert_eq!(b[3], "125k [120k–130k]");
        assert_eq!(b[7], "315 µs [300–330]");
    }

    #[test]
    fn ratio_lines_from_medians() {
        let r = run();
        let lines = ratio_lines(&r);
        assert_eq!(
            lines[0],
            "b/a transactions/s per core (goal ≥ 10), TFO on: 11.4x (transactions/s per core b-tfo 62.5k / a-tfo 5.5k) — goal met"
        );
        assert!(
            lines[1].starts_with("b/a transactions/s per core (goal ≥ 10), TFO off: 11.4x"),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines[2],
            "p99 b/a (goal ≤ 0.2), TFO on: 0.15 (SYN->last byte p99 b-tfo 330 µs / a-tfo 2.2 ms) — goal met"
        );
        assert!(
            lines[4].starts_with("c/a transactions/s, TFO on: no ratio: c-tfo has no figures"),
            "{}",
            lines[4]
        );
        assert_eq!(lines.len(), 5);
        let mut r = run();
        r.ratios[0].label = "b/a per core (goal ≥ 20)".into();
        r.ratios[0].metric = "p42".into();
        let l = ratio_lines(&r);
        assert!(l[0].contains("metric \"p42\" is not known"), "{}", l[0]);
        r.ratios[0].metric = "tps".into();
        let l = ratio_lines(&r);
        assert!(l[0].ends_with("— goal NOT met"), "{}", l[0]);
    }

    #[test]
    fn summary_text_is_aligned() {
        let t = summary_text(&run());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("tfo-vs-kernel"));
        let head = lines[3];
        assert!(head.starts_with("scenario"), "{t}");
        // Right-aligned columns end at the same place in every row.
        let col = "tps/core";
        let end = head[..head.find(col).unwrap()].chars().count() + col.chars().count();
        for l in &lines[4..=10] {
            let c: Vec<char> = l.chars().collect();
            assert!(c.len() >= end, "{l}");
            assert!(
                c[end - 1] != ' ' && (c.len() == end || c[end] == ' '),
                "{l}\n{head}"
            );
        }
        assert!(t.contains("b/a transactions/s per core (goal ≥ 10), TFO on: 11.4x"));
        assert!(
            t.contains("\nc-tfo FAILED: reps 1, 2, 3: mptfo serve exited"),
            "{t}"
        );
        assert!(t.contains("FAILED (below)"), "{t}");
    }

    /// `n` intervals of one second at `rate`, `rate + 100`, ...
    fn intervals(n: usize, rate: f64) -> Vec<crate::results::Progress> {
        (0..n)
            .map(|i| crate::results::Progress {
                t_s: (i + 1) as f64,
                len_s: 1.0,
                requests_per_s: rate + 100.0 * i as f64,
                connections_per_s: rate / 10.0,
            })
            .collect()
    }

    /// x of the plot's left edge: where the y axis is drawn.
    fn plot_left(doc: &roxmltree::Document) -> f64 {
        doc.descendants()
            .find(|n| {
                n.has_tag_name("line")
                    && n.attribute("stroke") == Some("#333")
                    && n.attribute("x1") == n.attribute("x2")
            })
            .and_then(|n| n.attribute("x1"))
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn progress_plot_one_line_per_point_with_intervals() {
        let mut r = run();
        // a-tfo: 3 s of progress in rep 1; b-tfo: rep 1 failed, rep 2 has
        // 2 s; e (mptfo bench) has none and is left out.
        r.scenarios[0].reps[0].figures.intervals = intervals(3, 10_000.0);
        r.scenarios[0].reps[1].figures.intervals = intervals(3, 99_000.0);
        r.scenarios[1].reps[0].figures = Figures::failed("killed");
        r.scenarios[1].reps[1].figures.intervals = intervals(2, 120_000.0);
        let (dir, keep) = out_dir("progress");
        let md = std::fs::read_to_string(write_report(&dir, &r).unwrap()).unwrap();
        let svg = std::fs::read_to_string(dir.join("progress.svg")).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let lines: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        assert_eq!(lines.len(), 2);
        let title = |n: &roxmltree::Node| {
            n.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|c| c.text())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(title(&lines[0]), "a-tfo");
        assert_eq!(title(&lines[1]), "b-tfo (rep 2)");
        // Steps: each interval from its start to its end at its rate.
        let pts: Vec<(f64, f64)> = lines[0]
            .attribute("points")
            .unwrap()
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(pts.len(), 6);
        for k in 0..3 {
            let (a, b) = (pts[2 * k], pts[2 * k + 1]);
            assert!(a.0 < b.0 && a.1 == b.1, "{pts:?}");
            if k > 0 {
                // Rates grow: higher up, a smaller y.
                assert_eq!(a.0, pts[2 * k - 1].0, "{pts:?}");
                assert!(a.1 < pts[2 * k - 1].1, "{pts:?}");
            }
        }
        assert_eq!(pts[0].0, plot_left(&doc), "the first interval starts at 0");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(!texts.iter().any(|t| t.starts_with("e-")), "{texts:?}");
        if plot::png_font().is_some() {
            assert!(
                md.contains("![Requests/s second by second](progress.png)"),
                "{md}"
            );
            let dec = png::Decoder::new(std::io::BufReader::new(
                std::fs::File::open(dir.join("progress.png")).unwrap(),
            ));
            let w: f32 = doc
                .root_element()
                .attribute("width")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                dec.read_info().unwrap().info().width,
                (w * plot::PNG_SCALE).round() as u32
            );
        } else {
            assert!(
                md.contains("![Requests/s second by second](progress.svg)"),
                "{md}"
            );
        }
        // Without intervals anywhere there is no progress plot.
        let (dir2, keep2) = out_dir("no-progress");
        let md = std::fs::read_to_string(write_report(&dir2, &run()).unwrap()).unwrap();
        assert!(!dir2.join("progress.svg").exists());
        assert!(!md.contains("progress."), "{md}");
        for (d, k) in [(dir, keep), (dir2, keep2)] {
            if !k {
                std::fs::remove_dir_all(&d).unwrap();
            }
        }
    }

    #[test]
    fn mptcp_off_points_in_tables_and_charts() {
        let mut r = run();
        let mut s = r.scenarios[0].clone();
        s.name = "a-tfo-tcp".into();
        s.mptcp = false;
        r.scenarios.push(s);
        let md = markdown(&r, &[]);
        assert!(md.contains("\n### a-tfo-tcp (TFO on, MPTCP off): "), "{md}");
        let charts = throughput_charts(&r);
        let names: Vec<&str> = charts[0].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["TFO on", "TFO off", "TFO on, MPTCP off"]);
        // Only scenario a has an MPTCP-off point.
        let tcp = &charts[0].series[2].bars;
        assert!(matches!(tcp[0], Slot::Bar(_)), "{tcp:?}");
        assert_eq!(tcp[1], Slot::Empty);
        let lines = ratio_lines(&r);
        assert!(
            !lines.iter().any(|l| l.contains("MPTCP off")),
            "b has no MPTCP-off point: {lines:?}"
        );
    }

    #[test]
    fn an_empty_run_still_makes_a_report() {
        let r = RunResults {
            lab: "empty".into(),
            started_utc: "2026-11-25T00:00:00Z".into(),
            machine: "m\nwith two lines".into(),
            scenarios: Vec::new(),
            ratios: Vec::new(),
        };
        let (dir, keep) = out_dir("empty");
        let md = std::fs::read_to_string(write_report(&dir, &r).unwrap()).unwrap();
        assert!(md.contains("- Machine: m; with two lines\n"), "{md}");
        assert!(md.contains("0 matrix points"), "{md}");
        let svg = std::fs::read_to_string(dir.join("latency.svg")).unwrap();
        roxmltree::Document::parse(&svg).unwrap();
        assert!(summary_text(&r).contains("scenario"));
        if !keep {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn writes_report_results_and_plots() {
        let r = run();
        let (dir, keep) = out_dir("full");
        let path = write_report(&dir, &r).unwrap();
        assert_eq!(path, dir.join("report.md"));
        let md = std::fs::read_to_string(&path).unwrap();
        assert!(md.starts_with("# mptfo lab run: tfo-vs-kernel\n"), "{md}");
        assert!(md.contains("- Machine: testhost: 2 cores, Linux 6.18, DPDK 22.11"));
        assert!(md.contains(
            "| a-tfo | on | Linux client -> Linux server, veth | 1 + 1 | kernel | wall |"
        ));
        assert!(
            md.contains("| e-notfo | off | mptfo bench (engine only) | 1 + 0 | mptfo | virtual |")
        );
        assert!(md.contains("\n## Ratios (from medians)\n\n- b/a transactions/s per core"));
        assert!(md.contains("| 1 | [reps/c-tfo-1.json](reps/c-tfo-1.json) | — |"));
        assert!(md.contains("- c-tfo rep 2: failed: mptfo serve exited with status 1"));
        assert!(md.contains("- b-tfo rep 3: errors 2 (client Reset: 2)"));
        assert!(md.contains("errors: client Reset: 2"));
        let back: RunResults =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(back, r);
        let font = plot::png_font();
        for stem in ["throughput", "latency"] {
            let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
            let doc = roxmltree::Document::parse(&svg).unwrap();
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            let w: f32 = root.attribute("width").unwrap().parse().unwrap();
            let h: f32 = root.attribute("height").unwrap().parse().unwrap();
            let texts: Vec<String> = doc
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .map(|n| {
                    let spans: Vec<&str> = n
                        .children()
                        .filter(|c| c.has_tag_name("tspan"))
                        .filter_map(|c| c.text())
                        .collect();
                    if spans.is_empty() {
                        n.text().unwrap_or("").to_string()
                    } else {
                        spans.join(" ")
                    }
                })
                .collect();
            for want in ["a: Linux client -> Linux server, veth", "TFO on", "TFO off"] {
                if stem == "throughput" {
                    assert!(
                        texts.iter().any(|t| t == want),
                        "{stem}: no {want:?} in {texts:?}"
                    );
                }
            }
            if stem == "latency" {
                for want in ["a-tfo", "c-tfo", "p50", "p99.9", "1 ms", "failed", "n/a"] {
                    assert!(
                        texts.iter().any(|t| t == want),
                        "{stem}: no {want:?} in {texts:?}"
                    );
                }
            } else {
                assert!(texts.iter().any(|t| t == "transactions/s per core"));
                assert!(texts.iter().any(|t| t == "125k"), "{texts:?}");
            }
            let png_path = dir.join(format!("{stem}.png"));
            if font.is_none() {
                assert!(md.contains("no PNG: no font found"), "{md}");
                assert!(!png_path.exists());
                continue;
            }
            assert!(md.contains(&format!(
                "![{}]({stem}.png)",
                if stem == "latency" {
                    "Latency percentiles per scenario"
                } else {
                    "Throughput per scenario"
                }
            )));
            let dec = png::Decoder::new(std::io::BufReader::new(
                std::fs::File::open(&png_path).unwrap(),
            ));
            let reader = dec.read_info().unwrap();
            let info = reader.info();
            assert_eq!(info.width, (w * plot::PNG_SCALE).round() as u32);
            assert_eq!(info.height, (h * plot::PNG_SCALE).round() as u32);
        }
        if !keep {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
