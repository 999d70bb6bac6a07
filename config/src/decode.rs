//! Reading the node tree against the schema: tables with known keys, typed
//! values with ranges, and diagnostics that name the path, the value and
//! what was expected.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::PathBuf;

use crate::error::{Diagnostic, ErrorKind, Location};
use crate::node::{quote, Entry, Kind, Node, Origin};

/// The text a tree was parsed from, to turn spans into locations.
pub(crate) struct Source {
    pub file: Option<PathBuf>,
    pub text: String,
}

/// Decoding state: the source, the diagnostics so far, and where each path
/// was found (for errors about combinations of keys).
pub(crate) struct Ctx<'s> {
    source: Option<&'s Source>,
    diags: Vec<(usize, Diagnostic)>,
    seen: HashMap<String, (Origin, String)>,
}

impl<'s> Ctx<'s> {
    pub(crate) fn new(source: Option<&'s Source>) -> Self {
        Ctx {
            source,
            diags: Vec::new(),
            seen: HashMap::new(),
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// The diagnostics, in the order of the text (those without a location
    /// last, in the order found).
    pub(crate) fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|(pos, _)| *pos);
        self.diags.into_iter().map(|(_, d)| d).collect()
    }

    fn location(&self, origin: &Origin) -> (usize, Option<Location>) {
        match (origin, self.source) {
            (Origin::Span(span), Some(src)) => (
                span.start,
                Some(Location::of(src.file.clone(), &src.text, span.clone())),
            ),
            _ => (usize::MAX, None),
        }
    }

    fn push(&mut self, kind: ErrorKind, message: String, origin: &Origin) {
        let (pos, loc) = self.location(origin);
        self.diags.push((pos, Diagnostic::new(kind, message, loc)));
    }

    /// Remembers where `path` was written, and its value as written.
    pub(crate) fn saw(&mut self, path: &str, node: &Node) {
        self.seen
            .insert(path.to_string(), (node.origin.clone(), node.show()));
    }

    /// Where `path` was written, if it was.
    pub(crate) fn origin_of(&self, path: &str) -> Origin {
        self.seen
            .get(path)
            .map_or(Origin::Generated, |(o, _)| o.clone())
    }

    /// `PATH = VALUE: expected EXPECTED`.
    pub(crate) fn invalid(&mut self, path: &str, node: &Node, expected: impl Display) {
        let msg = format!("{path} = {}: expected {expected}", node.show());
        self.push(ErrorKind::InvalidValue, msg, &node.origin);
    }

    /// `PATH = VALUE: WHY` for a value found wrong after decoding; the
    /// location is where `path` was written.
    /// `fallback` is shown when the value was not written in a text.
    pub(crate) fn invalid_at(&mut self, path: &str, fallback: impl Display, why: impl Display) {
        let shown = match self.seen.get(path) {
            Some((_, s)) => s.clone(),
            None => fallback.to_string(),
        };
        let msg = format!("{path} = {shown}: {why}");
        let origin = self.origin_of(path);
        self.push(ErrorKind::InvalidValue, msg, &origin);
    }

    /// `PATH is not set: expected EXPECTED`, pointing at the table.
    pub(crate) fn missing(&mut self, path: &str, table: &Node, expected: impl Display) {
        let msg = format!("{path} is not set: expected {expected}");
        self.push(ErrorKind::Missing, msg, &table.origin);
    }

    /// A free-form message about a combination of settings, pointing at
    /// where `at` was written.
    pub(crate) fn conflict(&mut self, at: &str, message: String) {
        let origin = self.origin_of(at);
        self.push(ErrorKind::Conflict, message, &origin);
    }

    /// Reads `node` as a table whose keys must be among `allowed`. Unknown
    /// keys are reported with the list of valid keys; the table is still
    /// returned so that its valid keys are checked too.
    pub(crate) fn table<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &'static [&'static str],
    ) -> Option<Fields<'n>> {
        self.saw(path, node);
        let Kind::Table(entries) = &node.kind else {
            let what = if path.is_empty() {
                "a table".to_string()
            } else if path.contains('[') {
                format!("a table with keys {}", allowed.join(", "))
            } else {
                format!("a table ([{path}]) with keys {}", allowed.join(", "))
            };
            self.invalid(path, node, what);
            return None;
        };
        for e in entries {
            if !allowed.contains(&e.key.as_str()) {
                let full = child(path, &e.key);
                let mut msg = format!(
                    "{full}: unknown key: expected one of {}",
                    allowed.join(", ")
                );
                if let Some(s) = suggest(&e.key, allowed) {
                    msg.push_str(&format!(" (did you mean {s}?)"));
                }
                self.push(ErrorKind::UnknownKey, msg, &e.key_origin);
            }
        }
        Some(Fields {
            path: path.to_string(),
            node,
            entries,
        })
    }
}

/// The keys of one table being decoded.
pub(crate) struct Fields<'n> {
    path: String,
    node: &'n Node,
    entries: &'n [Entry],
}

impl<'n> Fields<'n> {
    /// The table node.
    pub(crate) fn node(&self) -> &'n Node {
        self.node
    }

    /// The value of `key` and its full path, if the key is present.
    pub(crate) fn get(&self, key: &str) -> Option<(&'n Node, String)> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| (&e.value, child(&self.path, key)))
    }

    /// If `key` is present, decodes it with `dec` and stores the result in
    /// `slot` (on error, `slot` keeps its default).
    pub(crate) fn put<T>(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        slot: &mut T,
        dec: impl FnOnce(&mut Ctx<'_>, &Node, &str) -> Option<T>,
    ) {
        if let Some((n, p)) = self.get(key) {
            ctx.saw(&p, n);
            if let Some(v) = dec(ctx, n, &p) {
                *slot = v;
            }
        }
    }
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The valid key closest to a misspelt one, if it is close.
fn suggest(key: &str, allowed: &[&str]) -> Option<String> {
    allowed
        .iter()
        .map(|a| (distance(key, a), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) && *d < a.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.to_string())
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

/// An integer in `lo..=hi`. The expectation reads "an integer from LO to
/// HI" followed by `note` (e.g. " (Linux's limit)").
pub(crate) fn int<T: TryFrom<i128>>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    lo: i128,
    hi: i128,
    note: &str,
) -> Option<T> {
    let n = node.resolved(false);
    let expected = format!("an integer from {lo} to {hi}{note}");
    match n.kind {
        Kind::Int(Some(v), _) if (lo..=hi).contains(&v) => T::try_from(v).ok(),
        _ => {
            ctx.invalid(path, &n, expected);
            None
        }
    }
}

/// A number (integer or float) greater than 0 and at most `hi`.
pub(crate) fn positive_number(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    hi: f64,
    expected: &str,
) -> Option<f64> {
    let n = node.resolved(false);
    let v = match n.kind {
        Kind::Int(Some(v), _) => Some(v as f64),
        Kind::Float(v, _) => Some(v),
        _ => None,
    };
    match v {
        Some(v) if v > 0.0 && v <= hi => Some(v),
        _ => {
            ctx.invalid(path, &n, expected);
            None
        }
    }
}

/// `true` or `false`.
pub(crate) fn boolean(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<bool> {
    let n = node.resolved(false);
    match n.kind {
        Kind::Bool(b) => Some(b),
        _ => {
            ctx.invalid(path, &n, "true or false");
            None
        }
    }
}

/// Any string accepted by `check`.
pub(crate) fn string(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    expected: impl Display,
    check: impl FnOnce(&str) -> bool,
) -> Option<String> {
    let n = node.resolved(true);
    match &n.kind {
        Kind::Str(s) if check(s) => Some(s.clone()),
        _ => {
            ctx.invalid(path, &n, expected);
            None
        }
    }
}

/// A string that `parse` turns into a `T`.
pub(crate) fn parsed<T>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    expected: impl Display,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let n = node.resolved(true);
    let v = match &n.kind {
        Kind::Str(s) => parse(s),
        _ => None,
    };
    if v.is_none() {
        ctx.invalid(path, &n, expected);
    }
    v
}

/// One of a few names. `aliases` are accepted too but not listed.
pub(crate) fn choice<T: Copy>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    options: &[(&str, T)],
    aliases: &[(&str, T)],
) -> Option<T> {
    let n = node.resolved(true);
    if let Kind::Str(s) = &n.kind {
        if let Some((_, v)) = options.iter().chain(aliases).find(|(name, _)| name == s) {
            return Some(*v);
        }
    }
    ctx.invalid(path, &n, one_of(options.iter().map(|(name, _)| *name)));
    None
}

/// `"a" or "b"`, `one of "a", "b", "c"`.
pub(crate) fn one_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(quote).collect();
    match names.len() {
        0 => "nothing".into(),
        1 => names[0].clone(),
        2 => format!("{} or {}", names[0], names[1]),
        _ => format!("one of {}", names.join(", ")),
    }
}

/// How override text splits into a list when it is not a TOML array.
#[derive(Clone, Copy)]
pub(crate) enum Split {
    Comma,
    Whitespace,
}

/// An array whose items `item` decodes (items get paths `PATH[i]`). For
/// override text that is not a TOML array, the text is split by `split`
/// into string items.
pub(crate) fn list<T>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    expected: impl Display,
    split: Split,
    mut item: impl FnMut(&mut Ctx<'_>, &Node, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let n = match &node.kind {
        Kind::Raw(s) => match Node::parse_raw(s) {
            Some(n) if matches!(n.kind, Kind::Array(_)) => n,
            _ => {
                let parts: Vec<&str> = match split {
                    Split::Comma => s
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .collect(),
                    Split::Whitespace => s.split_whitespace().collect(),
                };
                let items = parts
                    .into_iter()
                    .map(|p| Node::new(Kind::Str(p.to_string()), Origin::Override))
                    .collect();
                Node::new(Kind::Array(items), Origin::Override)
            }
        },
        _ => node.clone(),
    };
    let Kind::Array(items) = &n.kind else {
        ctx.invalid(path, &n, expected);
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        ctx.saw(&p, it);
        match item(ctx, it, &p) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = &[
            "enabled",
            "checksum",
            "deny_join_id0",
            "reply_timing",
            "limits",
            "endpoint",
        ];
        assert_eq!(suggest("limit", keys).as_deref(), Some("limits"));
        assert_eq!(suggest("endpoints", keys).as_deref(), Some("endpoint"));
        assert_eq!(suggest("chksum", keys).as_deref(), Some("checksum"));
        assert_eq!(suggest("zzz", keys), None);
        assert_eq!(one_of(["a", "b"].into_iter()), "\"a\" or \"b\"");
        assert_eq!(
            one_of(["a", "b", "c"].into_iter()),
            "one of \"a\", \"b\", \"c\""
        );
    }
}
