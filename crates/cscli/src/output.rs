//! The three output shapes: `human` tables, indented `json`, `raw` CSV.

use std::fmt::Write as _;

use serde::Serialize;

/// A table drawn with rounded light box characters, headers centred, cells left-aligned.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells are blank).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The rendered table, ending with a newline.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let width = |s: &str| s.chars().count();
        let mut w: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(width(c));
            }
        }
        let line = |l: char, m: char, r: char| {
            let mut s = String::new();
            s.push(l);
            for (i, wi) in w.iter().enumerate() {
                s.push_str(&"─".repeat(wi + 2));
                s.push(if i + 1 == n { r } else { m });
            }
            s.push('\n');
            s
        };
        let mut out = line('╭', '┬', '╮');
        out.push('│');
        for (h, wi) in self.headers.iter().zip(&w) {
            let pad = wi - width(h);
            let left = pad / 2;
            let _ = write!(out, " {}{h}{} │", " ".repeat(left), " ".repeat(pad - left));
        }
        out.push('\n');
        out.push_str(&line('├', '┼', '┤'));
        for r in &self.rows {
            out.push('│');
            for (i, wi) in w.iter().enumerate() {
                let c = r.get(i).map_or("", String::as_str);
                let _ = write!(out, " {c}{} │", " ".repeat(wi - width(c)));
            }
            out.push('\n');
        }
        out.push_str(&line('╰', '┴', '╯'));
        out
    }
}

/// CSV like Go's `encoding/csv`: fields quoted when they contain a comma, quote, line break or
/// start with a space; lines end with `\n`.
#[derive(Debug, Default)]
pub struct Csv {
    out: String,
}

impl Csv {
    /// An empty document.
    pub fn new() -> Self {
        Csv::default()
    }

    /// Appends one record.
    pub fn record<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) {
        for (i, f) in fields.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let f = f.as_ref();
            let quote = f.contains([',', '"', '\n', '\r']) || f.starts_with(char::is_whitespace);
            if quote {
                self.out.push('"');
                self.out.push_str(&f.replace('"', "\"\""));
                self.out.push('"');
            } else {
                self.out.push_str(f);
            }
        }
        self.out.push('\n');
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// JSON indented with `indent`, as upstream's `json.MarshalIndent(v, "", indent)`.
pub fn json_indent<T: Serialize>(value: &T, indent: &str) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_unicode_cells() {
        let mut t = Table::new(["Name", "IP Address"]);
        t.row(["m1", "127.0.0.1"]);
        t.row(["✔️x", ""]);
        let expected = "\
╭──────┬────────────╮
│ Name │ IP Address │
├──────┼────────────┤
│ m1   │ 127.0.0.1  │
│ ✔️x  │            │
╰──────┴────────────╯
";
        assert_eq!(t.render(), expected);
    }

    #[test]
    fn csv_quotes_like_go() {
        let mut c = Csv::new();
        c.record(["id", "reason"]);
        c.record(["1", "manual 'ban' from 'x'"]);
        c.record(["2", "a,b"]);
        c.record(["3", "say \"hi\""]);
        c.record(["4", " lead"]);
        assert_eq!(
            c.finish(),
            "id,reason\n1,manual 'ban' from 'x'\n2,\"a,b\"\n3,\"say \"\"hi\"\"\"\n4,\" lead\"\n"
        );
    }

    #[test]
    fn json_indent_uses_given_indent() {
        let v = serde_json::json!({"a": [1]});
        assert_eq!(json_indent(&v, " ").unwrap(), "{\n \"a\": [\n  1\n ]\n}");
    }
}
