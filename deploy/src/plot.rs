//! Bar and line charts of a lab run, written as SVG and rendered to PNG.
//!
//! A bar chart has categories along x (scenarios) and one bar per series
//! in each (TFO on/off, or latency percentiles); a bar is a median, its
//! whisker the min–max range over the repetitions. The y axis is linear
//! from 0, or logarithmic (latencies). Several charts stack into one image.
//!
//! A line chart ([`LineChart`]) draws values over time, one line per
//! series (e.g. requests/s second by second, one line per scenario), on
//! linear axes from 0.
//!
//! The SVG is written here as text; the PNG is the same SVG rendered by
//! `resvg` with a font found under the system font folders
//! (`/usr/share/fonts`; Debian's `fonts-dejavu-core` gives DejaVu Sans).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use resvg::usvg::fontdb;
use resvg::{tiny_skia, usvg};

/// Families the charts ask for, in order of preference.
const FONT_FAMILIES: &[&str] = &[
    "DejaVu Sans",
    "Liberation Sans",
    "Noto Sans",
    "FreeSans",
    "Arial",
];

/// The `font-family` attribute of every text.
const FONT_ATTR: &str = "DejaVu Sans, Liberation Sans, Noto Sans, FreeSans, Arial, sans-serif";

/// Pixels per SVG unit in the PNG.
pub const PNG_SCALE: f32 = 2.0;

/// One bar: a median with its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Height of the bar.
    pub median: f64,
    /// Bottom of the whisker.
    pub min: f64,
    /// Top of the whisker.
    pub max: f64,
}

/// What the y values are, for tick and value labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count or rate: 1.2k, 3.4M.
    Count,
    /// Microseconds, shown as µs, ms or s.
    Micros,
}

/// The note of a [`Slot::Note`] that marks a failure (drawn in red).
pub const FAILED: &str = "failed";

/// What a series shows in one category.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// A bar.
    Bar(Bar),
    /// No figure, and why, written in the bar's place (e.g. "failed").
    Note(String),
    /// Nothing: the series does not exist in this category.
    Empty,
}

/// One series: a slot in every category.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Fill colour (`#rrggbb`).
    pub color: String,
    /// One entry per category (missing entries are [`Slot::Empty`]).
    pub bars: Vec<Slot>,
}

impl Series {
    /// Its bars, wherever it has one.
    fn bar_values(&self) -> impl Iterator<Item = &Bar> {
        self.bars.iter().filter_map(|s| match s {
            Slot::Bar(b) => Some(b),
            _ => None,
        })
    }
}

/// One chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title above the chart.
    pub title: String,
    /// Label of the y axis, with its unit.
    pub y_label: String,
    /// Unit of the values.
    pub unit: Unit,
    /// Logarithmic y axis.
    pub log: bool,
    /// Category names along x.
    pub categories: Vec<String>,
    /// The series, drawn side by side in each category.
    pub series: Vec<Series>,
    /// Print each bar's median above it.
    pub value_labels: bool,
}

/// Why no PNG was written.
#[derive(Debug)]
pub enum PngError {
    /// No font under the system font folders: text cannot be drawn.
    NoFont,
    /// The SVG did not parse, or the image could not be made or written.
    Other(String),
}

impl std::fmt::Display for PngError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PngError::NoFont => write!(
                f,
                "no font found under /usr/share/fonts (install fonts-dejavu-core); the SVG is written, the PNG is not"
            ),
            PngError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PngError {}

const LEFT: f64 = 90.0;
const RIGHT: f64 = 24.0;
const PLOT_H: f64 = 280.0;
const TITLE_H: f64 = 64.0;
const BAR_W: f64 = 22.0;
const GROUP_GAP: f64 = 26.0;
const FONT: f64 = 13.0;
const PANEL_GAP: f64 = 20.0;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            _ => o.push(c),
        }
    }
    o
}

/// A number with at most 3 significant digits, trailing zeros dropped.
pub(crate) fn sig3(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A value in its unit, short: "12.3k", "1.5 ms".
pub fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count => {
            let a = v.abs();
            if a >= 1e9 {
                format!("{}G", sig3(v / 1e9))
            } else if a >= 1e6 {
                format!("{}M", sig3(v / 1e6))
            } else if a >= 1e3 {
                format!("{}k", sig3(v / 1e3))
            } else {
                sig3(v)
            }
        }
        Unit::Micros => {
            let a = v.abs();
            if a >= 1e6 {
                format!("{} s", sig3(v / 1e6))
            } else if a >= 1e3 {
                format!("{} ms", sig3(v / 1e3))
            } else {
                format!("{} µs", sig3(v))
            }
        }
    }
}

/// Rough width of a text in DejaVu Sans, for layout.
fn text_w(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.6
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) near `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// The y axis of a chart: maps values to pixels, lists its ticks.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, bool)>,
}

impl Axis {
    fn new(chart: &BarChart) -> Axis {
        let vals = chart
            .series
            .iter()
            .flat_map(Series::bar_values)
            .flat_map(|b| [b.median, b.min, b.max])
            .filter(|v| v.is_finite());
        if chart.log {
            let pos: Vec<f64> = vals.filter(|&v| v > 0.0).collect();
            let min = pos.iter().copied().fold(f64::INFINITY, f64::min);
            let max = pos.iter().copied().fold(0.0, f64::max);
            let (mut lo, mut hi) = if pos.is_empty() {
                (0.0, 3.0)
            } else {
                (min.log10().floor(), max.log10().ceil())
            };
            if hi <= lo {
                hi = lo + 1.0;
            }
            if hi - lo < 2.0 {
                lo -= 1.0;
            }
            let mut ticks = Vec::new();
            let (l, h) = (lo as i32, hi as i32);
            for e in l..=h {
                let d = 10f64.powi(e);
                ticks.push((d, true));
                if e < h {
                    for m in 2..=9 {
                        let labelled = h - l <= 2 && (m == 2 || m == 5);
                        ticks.push((d * m as f64, labelled));
                    }
                }
            }
            Axis {
                log: true,
                lo: 10f64.powf(lo),
                hi: 10f64.powf(hi),
                ticks,
            }
        } else {
            let max = vals.fold(0.0, f64::max);
            let max = if max > 0.0 { max * 1.08 } else { 1.0 };
            let step = nice_step(max / 5.0);
            let hi = (max / step).ceil() * step;
            let n = (hi / step).round() as usize;
            let ticks = (0..=n).map(|i| (i as f64 * step, true)).collect();
            Axis {
                log: false,
                lo: 0.0,
                hi,
                ticks,
            }
        }
    }

    /// Fraction of the plot height, 0 at the bottom; clamped.
    fn frac(&self, v: f64) -> f64 {
        let f = if self.log {
            if v <= 0.0 {
                return 0.0;
            }
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0)
    }
}

/// Widest a category label may make its slot, px.
const MAX_LABEL_W: f64 = 170.0;
/// Lines of a category label, at most.
const LABEL_LINES: usize = 3;

/// Layout of one chart: bar and slot widths, the wrapped category labels.
struct Layout {
    bar_w: f64,
    group_w: f64,
    labels: Vec<Vec<String>>,
    label_h: f64,
}

/// `s` in lines of at most `width` characters, broken at spaces (a longer
/// word is cut), at most `lines` of them (the last one ends in "…" when
/// text is left out).
fn wrap(s: &str, width: usize, lines: usize) -> Vec<String> {
    let width = width.max(4);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while !word.is_empty() {
            let cur_len = cur.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + word.len() <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.extend(word.drain(..));
            } else if cur_len > 0 {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.extend(word.drain(..width));
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.len() > lines {
        out.truncate(lines);
        let last = &mut out[lines - 1];
        let mut t: Vec<char> = last.chars().collect();
        t.truncate(width - 1);
        *last = t.into_iter().collect::<String>() + "…";
    }
    out
}

fn layout(chart: &BarChart) -> Layout {
    let n = chart.series.len().max(1) as f64;
    let mut bar_w = BAR_W;
    if chart.value_labels {
        for b in chart.series.iter().flat_map(Series::bar_values) {
            bar_w = bar_w.max(text_w(&format_value(b.median, chart.unit), FONT - 2.0) + 6.0);
        }
    }
    let widest = chart
        .categories
        .iter()
        .map(|c| text_w(c, FONT))
        .fold(0.0, f64::max);
    let group_w = (n * bar_w + GROUP_GAP).max(widest.min(MAX_LABEL_W) + 10.0);
    let chars = ((group_w - 8.0) / (FONT * 0.6)).floor() as usize;
    let labels: Vec<Vec<String>> = chart
        .categories
        .iter()
        .map(|c| wrap(c, chars, LABEL_LINES))
        .collect();
    let lines = labels.iter().map(Vec::len).max().unwrap_or(1).max(1);
    Layout {
        bar_w,
        group_w,
        labels,
        label_h: lines as f64 * (FONT + 3.0) + 10.0,
    }
}

fn chart_width(chart: &BarChart) -> f64 {
    let l = layout(chart);
    let plot = (chart.categories.len().max(1) as f64 * l.group_w).max(360.0);
    let legend: f64 = chart
        .series
        .iter()
        .map(|s| text_w(&s.name, FONT) + 34.0)
        .sum::<f64>();
    let title = text_w(&chart.title, FONT + 3.0);
    (LEFT + plot + RIGHT).max(LEFT + title.max(legend) + RIGHT)
}

fn chart_height(chart: &BarChart) -> f64 {
    TITLE_H + PLOT_H + layout(chart).label_h + 10.0
}

/// Draws one chart at vertical offset `y0`, `width` wide.
fn draw(out: &mut String, chart: &BarChart, y0: f64, width: f64) {
    let l = layout(chart);
    let axis = Axis::new(chart);
    let top = y0 + TITLE_H;
    let bottom = top + PLOT_H;
    let x0 = LEFT;
    let x1 = width - RIGHT;
    let y_of = |v: f64| bottom - axis.frac(v) * PLOT_H;
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="{:.1}" font-size="{}" font-weight="bold">{}</text>"#,
        y0 + 20.0,
        FONT + 3.0,
        esc(&chart.title)
    );
    // Legend, one line under the title.
    let mut lx = x0;
    let ly = y0 + 42.0;
    for s in &chart.series {
        let _ = writeln!(
            out,
            r##"<rect x="{lx:.1}" y="{:.1}" width="14" height="14" fill="{}" stroke="#333" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" font-size="{FONT}">{}</text>"##,
            ly - 11.0,
            esc(&s.color),
            lx + 19.0,
            ly,
            esc(&s.name)
        );
        lx += text_w(&s.name, FONT) + 34.0;
    }
    // Grid and ticks.
    for &(v, labelled) in &axis.ticks {
        let y = y_of(v);
        let (stroke, w) = if labelled {
            ("#d0d0d0", 0.8)
        } else {
            ("#ececec", 0.6)
        };
        let _ = writeln!(
            out,
            r#"<line x1="{x0}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="{stroke}" stroke-width="{w}"/>"#
        );
        if labelled {
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="{}" text-anchor="end">{}</text>"#,
                x0 - 6.0,
                y + 4.0,
                FONT - 1.0,
                esc(&format_value(v, chart.unit))
            );
        }
    }
    // Axes.
    let _ = writeln!(
        out,
        r##"<line x1="{x0}" y1="{top:.1}" x2="{x0}" y2="{bottom:.1}" stroke="#333" stroke-width="1"/><line x1="{x0}" y1="{bottom:.1}" x2="{x1:.1}" y2="{bottom:.1}" stroke="#333" stroke-width="1"/>"##
    );
    let yl_x = 18.0;
    let yl_y = top + PLOT_H / 2.0;
    let _ = writeln!(
        out,
        r#"<text x="{yl_x}" y="{yl_y:.1}" font-size="{FONT}" text-anchor="middle" transform="rotate(-90 {yl_x} {yl_y:.1})">{}</text>"#,
        esc(&chart.y_label)
    );
    // Bars.
    let plot_w = x1 - x0;
    let n_cat = chart.categories.len().max(1) as f64;
    let slot = plot_w / n_cat;
    let n_ser = chart.series.len().max(1) as f64;
    let bar_w = l.bar_w.min((slot - GROUP_GAP) / n_ser).max(4.0);
    for (ci, cat) in chart.categories.iter().enumerate() {
        let cx = x0 + slot * (ci as f64 + 0.5);
        let gx = cx - bar_w * n_ser / 2.0;
        for (si, s) in chart.series.iter().enumerate() {
            let bx = gx + bar_w * si as f64;
            let mid = bx + bar_w / 2.0;
            let note = match s.bars.get(ci).unwrap_or(&Slot::Empty) {
                Slot::Empty => continue,
                Slot::Note(n) => n.clone(),
                Slot::Bar(b) if !b.median.is_finite() => "n/a".into(),
                // Zero has no place on a log axis.
                Slot::Bar(b) if axis.log && b.median <= 0.0 => format_value(0.0, chart.unit),
                Slot::Bar(b) => {
                    let b = *b;
                    let y = y_of(b.median);
                    let _ = writeln!(
                        out,
                        r##"<rect x="{bx:.1}" y="{y:.1}" width="{bar_w:.1}" height="{:.1}" fill="{}" stroke="#333" stroke-width="0.5"><title>{} {}: {}</title></rect>"##,
                        (bottom - y).max(0.0),
                        esc(&s.color),
                        esc(cat),
                        esc(&s.name),
                        esc(&format_value(b.median, chart.unit))
                    );
                    if b.max > b.min {
                        let (ya, yb) = (y_of(b.min), y_of(b.max));
                        let cap = bar_w * 0.3;
                        let _ = writeln!(
                            out,
                            r##"<path d="M{mid:.1} {ya:.1}V{yb:.1}M{:.1} {ya:.1}H{:.1}M{:.1} {yb:.1}H{:.1}" stroke="#111" stroke-width="1.2" fill="none"/>"##,
                            mid - cap,
                            mid + cap,
                            mid - cap,
                            mid + cap
                        );
                    }
                    if chart.value_labels {
                        let ty = y_of(b.max.max(b.median)) - 5.0;
                        let _ = writeln!(
                            out,
                            r#"<text x="{mid:.1}" y="{ty:.1}" font-size="{}" text-anchor="middle">{}</text>"#,
                            FONT - 2.0,
                            esc(&format_value(b.median, chart.unit))
                        );
                    }
                    continue;
                }
            };
            let ty = bottom - 6.0;
            // Red for a failure, grey for a figure that is just not there.
            let color = if note == FAILED { "#b00000" } else { "#555555" };
            let _ = writeln!(
                out,
                r##"<text x="{mid:.1}" y="{ty:.1}" font-size="{}" fill="{color}" text-anchor="start" transform="rotate(-90 {mid:.1} {ty:.1})">{}</text>"##,
                FONT - 2.0,
                esc(&note)
            );
        }
        let ty = bottom + FONT + 4.0;
        let mut text = String::new();
        for (i, line) in l.labels[ci].iter().enumerate() {
            let dy = if i == 0 { 0.0 } else { FONT + 3.0 };
            let _ = write!(
                text,
                r#"<tspan x="{cx:.1}" dy="{dy}">{}</tspan>"#,
                esc(line)
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{cx:.1}" y="{ty:.1}" font-size="{FONT}" text-anchor="middle"><title>{}</title>{text}</text>"#,
            esc(cat)
        );
    }
}

/// The charts, stacked top to bottom, as one SVG document.
pub fn svg(charts: &[BarChart]) -> String {
    let width = charts.iter().map(chart_width).fold(480.0, f64::max).ceil();
    let height: f64 = charts
        .iter()
        .map(|c| chart_height(c) + PANEL_GAP)
        .sum::<f64>()
        + 10.0;
    let height = height.ceil();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_ATTR}">"#
    );
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    );
    let mut y = PANEL_GAP / 2.0;
    for c in charts {
        draw(&mut out, c, y, width);
        y += chart_height(c) + PANEL_GAP;
    }
    out.push_str("</svg>\n");
    out
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// Stroke colour (`#rrggbb`).
    pub color: String,
    /// `(x, y)` points, in the order they are joined.
    pub points: Vec<(f64, f64)>,
}

/// Values over time: one line per series, linear axes from 0.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the chart.
    pub title: String,
    /// Label of the x axis, with its unit.
    pub x_label: String,
    /// Label of the y axis, with its unit.
    pub y_label: String,
    /// Unit of the y values.
    pub unit: Unit,
    /// Unit of the x values (seconds: plain numbers).
    pub x_unit: Unit,
    /// The lines.
    pub lines: Vec<Line>,
    /// A dot on every point (a line of one point is then a dot).
    pub dots: bool,
}

/// Ticks of a linear axis from 0 covering `max`: the step and the top.
fn linear_ticks(max: f64) -> (f64, f64) {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let step = nice_step(max / 5.0);
    (step, (max / step).ceil() * step)
}

/// A line chart as one SVG document.
pub fn line_svg(chart: &LineChart) -> String {
    const PLOT_W: f64 = 640.0;
    let finite = |v: &f64| v.is_finite();
    let xs = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0));
    let ys = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1));
    let x_max = xs.filter(finite).fold(0.0, f64::max);
    let y_max = ys.filter(finite).fold(0.0, f64::max) * 1.08;
    let (x_step, x_hi) = linear_ticks(x_max);
    let (y_step, y_hi) = linear_ticks(y_max);
    // Legend entries, wrapped into rows as wide as the plot.
    let mut rows: Vec<Vec<&Line>> = vec![Vec::new()];
    let mut row_w = 0.0;
    for l in &chart.lines {
        let w = text_w(&l.name, FONT) + 40.0;
        if row_w + w > PLOT_W && !rows.last().unwrap().is_empty() {
            rows.push(Vec::new());
            row_w = 0.0;
        }
        rows.last_mut().unwrap().push(l);
        row_w += w;
    }
    let legend_h = rows.len() as f64 * (FONT + 8.0);
    let title_w = text_w(&chart.title, FONT + 3.0);
    let width = (LEFT + PLOT_W.max(title_w) + RIGHT).ceil();
    let top = 34.0 + legend_h + 10.0;
    let bottom = top + PLOT_H;
    let height = (bottom + 2.0 * FONT + 24.0).ceil();
    let (x0, x1) = (LEFT, LEFT + PLOT_W);
    let px = |x: f64| x0 + (x / x_hi).clamp(0.0, 1.0) * PLOT_W;
    let py = |y: f64| bottom - (y / y_hi).clamp(0.0, 1.0) * PLOT_H;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_ATTR}">"#
    );
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="22" font-size="{}" font-weight="bold">{}</text>"#,
        FONT + 3.0,
        esc(&chart.title)
    );
    for (r, row) in rows.iter().enumerate() {
        let ly = 34.0 + (r as f64 + 1.0) * (FONT + 8.0) - 4.0;
        let mut lx = x0;
        for l in row {
            let _ = writeln!(
                out,
                r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2.5"/><text x="{:.1}" y="{ly:.1}" font-size="{FONT}">{}</text>"#,
                ly - 4.5,
                lx + 24.0,
                ly - 4.5,
                esc(&l.color),
                lx + 30.0,
                esc(&l.name)
            );
            lx += text_w(&l.name, FONT) + 40.0;
        }
    }
    // Grid, ticks and their labels.
    let n_y = (y_hi / y_step).round() as usize;
    for i in 0..=n_y {
        let v = i as f64 * y_step;
        let y = py(v);
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#d0d0d0" stroke-width="0.8"/><text x="{:.1}" y="{:.1}" font-size="{}" text-anchor="end">{}</text>"##,
            x0 - 6.0,
            y + 4.0,
            FONT - 1.0,
            esc(&format_value(v, chart.unit))
        );
    }
    let n_x = (x_hi / x_step).round() as usize;
    for i in 0..=n_x {
        let v = i as f64 * x_step;
        let x = px(v);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#ececec" stroke-width="0.6"/><text x="{x:.1}" y="{:.1}" font-size="{}" text-anchor="middle">{}</text>"##,
            bottom + FONT + 4.0,
            FONT - 1.0,
            esc(&format_value(v, chart.x_unit))
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{x0}" y1="{top:.1}" x2="{x0}" y2="{bottom:.1}" stroke="#333" stroke-width="1"/><line x1="{x0}" y1="{bottom:.1}" x2="{x1:.1}" y2="{bottom:.1}" stroke="#333" stroke-width="1"/>"##
    );
    let yl_y = top + PLOT_H / 2.0;
    let _ = writeln!(
        out,
        r#"<text x="18" y="{yl_y:.1}" font-size="{FONT}" text-anchor="middle" transform="rotate(-90 18 {yl_y:.1})">{}</text>"#,
        esc(&chart.y_label)
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle">{}</text>"#,
        x0 + PLOT_W / 2.0,
        bottom + 2.0 * FONT + 12.0,
        esc(&chart.x_label)
    );
    // The lines, with a dot on every point if asked.
    for l in &chart.lines {
        let pts: Vec<(f64, f64)> = l
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| (px(x), py(y)))
            .collect();
        if pts.len() > 1 {
            let list: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"><title>{}</title></polyline>"#,
                list.join(" "),
                esc(&l.color),
                esc(&l.name)
            );
        }
        if !chart.dots {
            continue;
        }
        for ((x, y), &(vx, vy)) in pts.iter().zip(
            l.points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite()),
        ) {
            let _ = writeln!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"><title>{} at {}: {}</title></circle>"#,
                esc(&l.color),
                esc(&l.name),
                esc(&format_value(vx, chart.x_unit)),
                esc(&format_value(vy, chart.unit))
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// A font database with the family texts are drawn with.
type Fonts = (Arc<fontdb::Database>, String);

/// `db` with its sans-serif family set to the first of [`FONT_FAMILIES`]
/// present (else any family it has); `None` when it has no font.
fn fonts_from(mut db: fontdb::Database) -> Option<Fonts> {
    if db.is_empty() {
        return None;
    }
    let has = |fam: &str| {
        db.faces()
            .any(|f| f.families.iter().any(|(n, _)| n.eq_ignore_ascii_case(fam)))
    };
    let family = FONT_FAMILIES
        .iter()
        .find(|f| has(f))
        .map(|f| f.to_string())
        .or_else(|| {
            db.faces()
                .find_map(|f| f.families.first().map(|(n, _)| n.clone()))
        })?;
    db.set_sans_serif_family(family.clone());
    Some((Arc::new(db), family))
}

/// The system fonts (`/usr/share/fonts` and the other usual folders),
/// loaded once; `None` when there is no font.
fn fonts() -> Option<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            db.load_system_fonts();
            fonts_from(db)
        })
        .as_ref()
}

/// The font family PNGs are drawn with, if any font is installed.
pub fn png_font() -> Option<String> {
    fonts().map(|(_, f)| f.clone())
}

/// Renders an SVG document to PNG bytes, [`PNG_SCALE`] pixels per unit.
pub fn png(svg: &str) -> Result<Vec<u8>, PngError> {
    png_with(svg, fonts())
}

fn png_with(svg: &str, fonts: Option<&Fonts>) -> Result<Vec<u8>, PngError> {
    let (db, family) = fonts.ok_or(PngError::NoFont)?;
    let opt = usvg::Options {
        font_family: family.clone(),
        fontdb: db.clone(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt)
        .map_err(|e| PngError::Other(format!("the SVG does not parse: {e}")))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(PNG_SCALE)
        .ok_or_else(|| PngError::Other("the image has no size".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| {
        PngError::Other(format!(
            "cannot make a {}x{} image",
            size.width(),
            size.height()
        ))
    })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| PngError::Other(format!("PNG encoding: {e}")))
}

/// Writes `<stem>.svg` and `<stem>.png` in `dir`. The SVG is always
/// written; the PNG's failure (e.g. no font) is returned as `Ok(Some(why))`
/// so the caller can say it. Errors are those of writing the SVG.
pub fn write_svg_png(
    dir: &Path,
    stem: &str,
    charts: &[BarChart],
) -> anyhow::Result<Option<String>> {
    write_svg_png_with(dir, stem, charts, fonts())
}

/// [`write_svg_png`] for a line chart.
pub fn write_line_svg_png(
    dir: &Path,
    stem: &str,
    chart: &LineChart,
) -> anyhow::Result<Option<String>> {
    write_doc(dir, stem, &line_svg(chart), fonts())
}

fn write_svg_png_with(
    dir: &Path,
    stem: &str,
    charts: &[BarChart],
    fonts: Option<&Fonts>,
) -> anyhow::Result<Option<String>> {
    write_doc(dir, stem, &svg(charts), fonts)
}

fn write_doc(
    dir: &Path,
    stem: &str,
    doc: &str,
    fonts: Option<&Fonts>,
) -> anyhow::Result<Option<String>> {
    let svg_path = dir.join(format!("{stem}.svg"));
    std::fs::write(&svg_path, doc)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", svg_path.display()))?;
    let png_path = dir.join(format!("{stem}.png"));
    match png_with(doc, fonts) {
        Ok(bytes) => match std::fs::write(&png_path, bytes) {
            Ok(()) => Ok(None),
            Err(e) => Ok(Some(format!("writing {}: {e}", png_path.display()))),
        },
        Err(e) => Ok(Some(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(log: bool, categories: &[&str]) -> BarChart {
        let bars = |k: f64| {
            categories
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    if i == 1 {
                        Slot::Note("failed".into())
                    } else {
                        Slot::Bar(Bar {
                            median: k * (i + 1) as f64,
                            min: k * (i + 1) as f64 * 0.9,
                            max: k * (i + 1) as f64 * 1.2,
                        })
                    }
                })
                .collect()
        };
        BarChart {
            title: "Latency <SYN> & co".into(),
            y_label: "SYN → last byte".into(),
            unit: if log { Unit::Micros } else { Unit::Count },
            log,
            categories: categories.iter().map(|c| c.to_string()).collect(),
            series: vec![
                Series {
                    name: "p50".into(),
                    color: "#a6cee3".into(),
                    bars: bars(40.0),
                },
                Series {
                    name: "p99".into(),
                    color: "#1f5fa0".into(),
                    bars: bars(900.0),
                },
            ],
            value_labels: !log,
        }
    }

    #[test]
    fn values_in_their_units() {
        assert_eq!(format_value(0.0, Unit::Count), "0");
        assert_eq!(format_value(999.0, Unit::Count), "999");
        assert_eq!(format_value(12_345.0, Unit::Count), "12.3k");
        assert_eq!(format_value(1_500_000.0, Unit::Count), "1.5M");
        assert_eq!(format_value(2.5e9, Unit::Count), "2.5G");
        assert_eq!(format_value(3.25, Unit::Count), "3.25");
        assert_eq!(format_value(12.5, Unit::Micros), "12.5 µs");
        assert_eq!(format_value(1000.0, Unit::Micros), "1 ms");
        assert_eq!(format_value(2_345_000.0, Unit::Micros), "2.35 s");
    }

    #[test]
    fn nice_steps_and_wrapping() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(23.0), 25.0);
        assert_eq!(nice_step(31_000.0), 50_000.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(
            wrap("a: Linux client -> Linux server, veth", 20, 3),
            vec!["a: Linux client ->", "Linux server, veth"]
        );
        assert_eq!(wrap("abcdefghij", 4, 3), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("one two three four", 5, 2), vec!["one", "two…"]);
        assert_eq!(wrap("", 10, 2), Vec::<String>::new());
    }

    #[test]
    fn axes_cover_the_values() {
        let c = chart(true, &["a", "b", "c"]);
        let ax = Axis::new(&c);
        // Values 36 µs .. 3.24 ms: decades 10 µs .. 10 ms.
        assert_eq!((ax.lo, ax.hi), (10.0, 10_000.0));
        assert_eq!(ax.frac(10.0), 0.0);
        assert_eq!(ax.frac(10_000.0), 1.0);
        assert!((ax.frac(100.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(ax.frac(0.0), 0.0, "zero sits on the axis");
        assert!(ax.ticks.contains(&(1000.0, true)));
        let c = chart(false, &["a", "b", "c"]);
        let ax = Axis::new(&c);
        assert_eq!(ax.lo, 0.0);
        // Largest value 3240 (whisker top), +8 %: 3499 -> step 1000 -> 4000.
        assert_eq!(ax.hi, 4000.0);
        assert_eq!(ax.ticks.len(), 5);
    }

    #[test]
    fn svg_is_well_formed_and_escaped() {
        let doc = svg(&[chart(false, &["x<1>", "b & c", "d"]), chart(true, &["a"])]);
        let xml = roxmltree::Document::parse(&doc).unwrap();
        let root = xml.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let rects = xml
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#1f5fa0"))
            .count();
        // p99 bars: 2 of 3 in the first chart (one missing), 1 in the
        // second; plus the two legend swatches.
        assert_eq!(rects, 3 + 2);
        let texts: Vec<&str> = xml
            .descendants()
            .filter(|n| n.has_tag_name("text") || n.has_tag_name("tspan"))
            .filter_map(|n| n.text())
            .collect();
        for want in [
            "x<1>",
            "b & c",
            "Latency <SYN> & co",
            "failed",
            "SYN → last byte",
            "2.7k",
        ] {
            assert!(texts.contains(&want), "no {want:?} in {texts:?}");
        }
    }

    #[test]
    fn line_chart_is_well_formed_and_covers_the_points() {
        let chart = LineChart {
            title: "Requests/s <per second> & more".into(),
            x_label: "seconds".into(),
            y_label: "requests/s".into(),
            unit: Unit::Count,
            x_unit: Unit::Count,
            lines: vec![
                Line {
                    name: "a-tfo".into(),
                    color: "#2b7bba".into(),
                    points: vec![(1.0, 20_000.0), (2.0, 21_000.0), (3.0, 19_000.0)],
                },
                Line {
                    name: "b-tfo-tcp".into(),
                    color: "#f28e2b".into(),
                    points: vec![(1.0, 200_000.0)],
                },
            ],
            dots: true,
        };
        let doc = line_svg(&chart);
        let xml = roxmltree::Document::parse(&doc).unwrap();
        let lines: Vec<_> = xml
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        // The one-point line is a dot only.
        assert_eq!(lines.len(), 1);
        let pts: Vec<(f64, f64)> = lines[0]
            .attribute("points")
            .unwrap()
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(pts.len(), 3);
        // x grows with time; a higher rate is higher up (smaller y).
        assert!(pts[0].0 < pts[1].0 && pts[1].0 < pts[2].0, "{pts:?}");
        assert!(pts[1].1 < pts[0].1 && pts[0].1 < pts[2].1, "{pts:?}");
        let dots = xml
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        assert_eq!(dots, 4);
        let w: f64 = xml
            .root_element()
            .attribute("width")
            .unwrap()
            .parse()
            .unwrap();
        for (x, _) in &pts {
            assert!(*x > LEFT && *x < w, "{x} outside 0..{w}");
        }
        let texts: Vec<&str> = xml
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for want in [
            "Requests/s <per second> & more",
            "a-tfo",
            "b-tfo-tcp",
            "requests/s",
            "seconds",
            "200k",
            "0",
            "3",
        ] {
            assert!(texts.contains(&want), "no {want:?} in {texts:?}");
        }
        // The y axis reaches above the highest point.
        assert!(texts.contains(&"250k"), "{texts:?}");
        // Without dots, only the lines.
        let plain = line_svg(&LineChart {
            dots: false,
            ..chart.clone()
        });
        assert!(!plain.contains("<circle"));
        assert_eq!(plain.matches("<polyline").count(), 1);
        // Nothing to draw is still a document.
        let empty = LineChart {
            lines: Vec::new(),
            ..chart
        };
        roxmltree::Document::parse(&line_svg(&empty)).unwrap();
    }

    #[test]
    fn without_a_font_the_svg_is_still_written() {
        let dir = std::env::temp_dir().join(format!("mptfo-plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let none = fonts_from(fontdb::Database::new());
        assert!(none.is_none());
        let why = write_svg_png_with(&dir, "t", &[chart(false, &["a"])], none.as_ref())
            .unwrap()
            .expect("no PNG without a font");
        assert!(
            why.contains("no font found") && why.contains("fonts-dejavu-core"),
            "{why}"
        );
        assert!(dir.join("t.svg").exists());
        assert!(!dir.join("t.png").exists());
        if let Some(f) = fonts() {
            assert!(
                write_svg_png_with(&dir, "t", &[chart(true, &["a"])], Some(f))
                    .unwrap()
                    .is_none()
            );
            let bytes = std::fs::read(dir.join("t.png")).unwrap();
            let dec = png::Decoder::new(std::io::Cursor::new(bytes));
            let reader = dec.read_info().unwrap();
            let doc = svg(&[chart(true, &["a"])]);
            let xml = roxmltree::Document::parse(&doc).unwrap();
            let w: f32 = xml
                .root_element()
                .attribute("width")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(reader.info().width, (w * PNG_SCALE) as u32);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
