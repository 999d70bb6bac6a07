//! A TOML document as a tree that remembers where each value came from.
//!
//! The decoder walks this tree (not serde) so that every error can name the
//! key's full path, show the value as written, and point at its line. Values
//! given as overrides (`--set PATH=VALUE`) enter the tree as [`Kind::Raw`]
//! text and are read according to the type the schema expects at that path.

use std::borrow::Cow;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{ConfigError, ErrorKind};

/// Where a node came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Bytes of the source text.
    Span(Range<usize>),
    /// An override given on the command line or through `Config::set`.
    Override,
    /// Built in code (no location to show).
    Generated,
}

/// A key of a table and its value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_origin: Origin,
    pub value: Node,
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub origin: Origin,
}

/// The value of a node.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Str(String),
    /// The value (`None` if it does not fit an i128) and the text as written.
    Int(Option<i128>, String),
    /// The value and the text as written.
    Float(f64, String),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    /// Entries in the order of the text.
    Table(Vec<Entry>),
    /// Override text, read as the type expected where it lands.
    Raw(String),
}

impl Node {
    pub(crate) fn new(kind: Kind, origin: Origin) -> Node {
        Node { kind, origin }
    }

    pub(crate) fn empty_table(origin: Origin) -> Node {
        Node::new(Kind::Table(Vec::new()), origin)
    }

    /// Parses a whole TOML document.
    pub(crate) fn parse_document(text: &str) -> Result<Node, toml::de::Error> {
        let table = DeTable::parse(text)?;
        let span = table.span();
        let entries = table_entries(table.get_ref());
        Ok(Node::new(Kind::Table(entries), Origin::Span(span)))
    }

    /// Converts a `toml::Value` (no locations).
    pub(crate) fn from_value(v: &toml::Value) -> Node {
        let kind = match v {
            toml::Value::String(s) => Kind::Str(s.clone()),
            toml::Value::Integer(i) => Kind::Int(Some(i128::from(*i)), i.to_string()),
            toml::Value::Float(f) => Kind::Float(*f, float_text(*f)),
            toml::Value::Boolean(b) => Kind::Bool(*b),
            toml::Value::Datetime(d) => Kind::Datetime(d.to_string()),
            toml::Value::Array(a) => Kind::Array(a.iter().map(Node::from_value).collect()),
            toml::Value::Table(t) => Kind::Table(
                t.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_origin: Origin::Generated,
                        value: Node::from_value(v),
                    })
                    .collect(),
            ),
        };
        Node::new(kind, Origin::Generated)
    }

    /// The override text `s` read as a TOML value (`12`, `true`, `[0, 1]`,
    /// `"text"`), if it is one.
    pub(crate) fn parse_raw(s: &str) -> Option<Node> {
        let v = DeValue::parse(s.trim()).ok()?;
        let mut n = from_de(&v);
        set_origin(&mut n, &Origin::Override);
        Some(n)
    }

    /// This node with override text resolved: as a TOML value if it parses
    /// as one (when `want_string`, only a quoted string counts), else as a
    /// string.
    pub(crate) fn resolved(&self, want_string: bool) -> Cow<'_, Node> {
        let Kind::Raw(s) = &self.kind else {
            return Cow::Borrowed(self);
        };
        match Node::parse_raw(s) {
            Some(n) if !want_string || matches!(n.kind, Kind::Str(_)) => Cow::Owned(n),
            _ => Cow::Owned(Node::new(Kind::Str(s.clone()), Origin::Override)),
        }
    }

    /// The value as it would be written in TOML, shortened if long: strings
    /// quoted, integers as written, arrays and tables inline.
    pub(crate) fn show(&self) -> String {
        let mut s = String::new();
        self.write_show(&mut s);
        shorten(s)
    }

    fn write_show(&self, out: &mut String) {
        match &self.kind {
            Kind::Str(s) => out.push_str(&quote(s)),
            Kind::Int(_, t) | Kind::Float(_, t) | Kind::Datetime(t) => out.push_str(t),
            Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Kind::Array(items) => {
                out.push('[');
                for (i, n) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    n.write_show(out);
                    if out.len() > 200 {
                        break;
                    }
                }
                out.push(']');
            }
            Kind::Table(entries) => {
                if entries.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push_str("{ ");
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&e.key);
                    out.push_str(" = ");
                    e.value.write_show(out);
                    if out.len() > 200 {
                        break;
                    }
                }
                out.push_str(" }");
            }
            Kind::Raw(s) => match Node::parse_raw(s) {
                Some(n) => n.write_show(out),
                None => out.push_str(&quote(s)),
            },
        }
    }

    /// A short name of the node's type, for override errors.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Str(_) | Kind::Raw(_) => "a string",
            Kind::Int(..) => "an integer",
            Kind::Float(..) => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Datetime(_) => "a date-time",
            Kind::Array(_) => "an array",
            Kind::Table(_) => "a table",
        }
    }

    /// Deep merge: tables merge key by key, anything else in `other`
    /// replaces what is here (arrays, including arrays of tables, are
    /// replaced whole).
    pub(crate) fn merge(&mut self, other: Node) {
        match (&mut self.kind, other.kind) {
            (Kind::Table(mine), Kind::Table(theirs)) => {
                for e in theirs {
                    match mine.iter_mut().find(|m| m.key == e.key) {
                        Some(m) => m.value.merge(e.value),
                        None => mine.push(e),
                    }
                }
            }
            (_, kind) => {
                self.kind = kind;
                self.origin = other.origin;
            }
        }
    }

    /// Sets the value at `path` (`mptcp.limits.subflows`, `port[0].mtu`) to
    /// the override text `value`, creating tables on the way. An index may
    /// name the next element of an array of tables (to append one).
    pub(crate) fn set_path(&mut self, path: &str, value: &str) -> Result<(), ConfigError> {
        let segs = parse_path(path)?;
        let mut cur = self;
        let mut walked = String::new();
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let here = if walked.is_empty() {
                "the top level".to_string()
            } else {
                walked.clone()
            };
            let type_name = cur.type_name();
            match seg {
                Seg::Key(k) => {
                    let Kind::Table(entries) = &mut cur.kind else {
                        return Err(bad_override(
                            path,
                            format!("{here} is {type_name}, not a table"),
                        ));
                    };
                    let pos = match entries.iter().position(|e| e.key == *k) {
                        Some(p) => p,
                        None => {
                            let value = match segs.get(i + 1) {
                                Some(Seg::Index(_)) => {
                                    Node::new(Kind::Array(Vec::new()), Origin::Override)
                                }
                                _ => Node::empty_table(Origin::Override),
                            };
                            entries.push(Entry {
                                key: k.clone(),
                                key_origin: Origin::Override,
                                value,
                            });
                            entries.len() - 1
                        }
                    };
                    if !walked.is_empty() {
                        walked.push('.');
                    }
                    walked.push_str(k);
                    cur = &mut entries[pos].value;
                }
                Seg::Index(idx) => {
                    let Kind::Array(items) = &mut cur.kind else {
                        return Err(bad_override(
                            path,
                            format!("{here} is {type_name}, not an array"),
                        ));
                    };
                    if *idx == items.len() && !last {
                        items.push(Node::empty_table(Origin::Override));
                    } else if *idx >= items.len() {
                        return Err(bad_override(
                            path,
                            format!(
                                "{here} has {} element{}: expected an index below {}{}",
                                items.len(),
                                if items.len() == 1 { "" } else { "s" },
                                items.len(),
                                if last {
                                    ""
                                } else {
                                    " (or equal to it, to append a table)"
                                }
                            ),
                        ));
                    }
                    walked.push_str(&format!("[{idx}]"));
                    cur = &mut items[*idx];
                }
            }
        }
        *cur = Node::new(Kind::Raw(value.to_string()), Origin::Override);
        Ok(())
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

fn bad_override(path: &str, why: String) -> ConfigError {
    ConfigError::one(ErrorKind::BadOverride, format!("override {path}: {why}"))
}

fn parse_path(path: &str) -> Result<Vec<Seg>, ConfigError> {
    let bad = || {
        ConfigError::one(
            ErrorKind::BadOverride,
            format!(
                "override {}: expected a dotted key path such as mptcp.limits.subflows or port[0].mtu",
                quote(path)
            ),
        )
    };
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad());
        }
        segs.push(Seg::Key(name.to_string()));
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            if !rest.starts_with('[') {
                return Err(bad());
            }
            let idx: usize = rest[1..close].parse().map_err(|_| bad())?;
            segs.push(Seg::Index(idx));
            rest = &rest[close + 1..];
        }
    }
    Ok(segs)
}

fn set_origin(n: &mut Node, o: &Origin) {
    n.origin = o.clone();
    match &mut n.kind {
        Kind::Array(items) => items.iter_mut().for_each(|i| set_origin(i, o)),
        Kind::Table(entries) => entries.iter_mut().for_each(|e| {
            e.key_origin = o.clone();
            set_origin(&mut e.value, o);
        }),
        _ => {}
    }
}

fn table_entries(t: &DeTable<'_>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = t
        .iter()
        .map(|(k, v)| Entry {
            key: k.get_ref().to_string(),
            key_origin: Origin::Span(k.span()),
            value: from_de(v),
        })
        .collect();
    // DeTable orders keys by name; errors read better in the file's order.
    entries.sort_by_key(|e| match &e.key_origin {
        Origin::Span(s) => s.start,
        _ => usize::MAX,
    });
    entries
}

fn from_de(v: &Spanned<DeValue<'_>>) -> Node {
    let kind = match v.get_ref() {
        DeValue::String(s) => Kind::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let value = i128::from_str_radix(&digits, i.radix()).ok();
            Kind::Int(value, i.to_string())
        }
        DeValue::Float(f) => {
            let text = f.as_str().to_string();
            let value = text.replace('_', "").parse::<f64>().unwrap_or(f64::NAN);
            Kind::Float(value, text)
        }
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(d) => Kind::Datetime(d.to_string()),
        DeValue::Array(a) => Kind::Array(a.iter().map(from_de).collect()),
        DeValue::Table(t) => Kind::Table(table_entries(t)),
    };
    Node::new(kind, Origin::Span(v.span()))
}

fn float_text(f: f64) -> String {
    let s = f.to_string();
    if s.contains(['.', 'e', 'E', 'n', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// `s` as a TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn shorten(s: String) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        return s;
    }
    let mut t: String = s.chars().take(MAX - 1).collect();
    t.push('…');
    t
}
