//! XML helpers (`XMLGetNodeValue`, `XMLGetAttributeValue`) with `beevik/etree` path semantics.
//!
//! Supported path syntax (the etree subset): absolute `/a/b` or relative `a/b` paths, `//`
//! (descendants), `.`, `..`, `*`, `prefix:tag`, and filters `[n]` (1-based, negative from the
//! end), `[@attr]`, `[@attr='v']`, `[tag]`, `[tag='v']`, `[text()='v']`. Filters apply to the
//! candidates produced from each context element, as in etree.

use std::cell::RefCell;
use std::rc::Rc;

use roxmltree::Node;

/// One `[...]` filter of a path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    Position(i64),
    HasAttr(String),
    AttrEquals(String, String),
    HasChild(String),
    ChildText(String, String),
    Text(String),
}

/// What a path segment selects relative to each context element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    SelfNode,
    Parent,
    AllChildren,
    Descendants,
    Children { prefix: Option<String>, tag: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    selector: Selector,
    filters: Vec<Filter>,
}

/// A compiled etree path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlPath {
    segments: Vec<Segment>,
}

/// Split on `sep` outside of quotes and brackets.
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None::<char>, 0usize);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    let q = s.chars().next()?;
    if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
        Some(&s[1..s.len() - 1])
    } else {
        None
    }
}

fn parse_filter(f: &str) -> Option<Filter> {
    let f = f.trim();
    if let Ok(n) = f.parse::<i64>() {
        return (n != 0).then_some(Filter::Position(n));
    }
    let (lhs, rhs) = match f.split_once('=') {
        Some((l, r)) => (l.trim(), Some(unquote(r)?.to_owned())),
        None => (f, None),
    };
    if lhs.is_empty() {
        return None;
    }
    Some(match (lhs.strip_prefix('@'), rhs) {
        (Some(attr), None) => Filter::HasAttr(attr.to_owned()),
        (Some(attr), Some(v)) => Filter::AttrEquals(attr.to_owned(), v),
        (None, Some(v)) if lhs == "text()" => Filter::Text(v),
        (None, _) if lhs.ends_with(')') => return None,
        (None, None) => Filter::HasChild(lhs.to_owned()),
        (None, Some(v)) => Filter::ChildText(lhs.to_owned(), v),
    })
}

fn parse_segment(seg: &str) -> Option<Segment> {
    let (head, mut rest) = match seg.find('[') {
        Some(i) => (&seg[..i], &seg[i..]),
        None => (seg, ""),
    };
    let selector = match head {
        "." => Selector::SelfNode,
        ".." => Selector::Parent,
        "*" => Selector::AllChildren,
        "" => return None,
        tag => match tag.split_once(':') {
            Some((p, t)) => Selector::Children {
                prefix: Some(p.to_owned()),
                tag: t.to_owned(),
            },
            None => Selector::Children {
                prefix: None,
                tag: tag.to_owned(),
            },
        },
    };
    let mut filters = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let parts = split_outside(inner, ']');
        // parts[0] is the filter body, the remainder starts after its closing bracket.
        let body = parts.first()?;
        filters.push(parse_filter(body)?);
        rest = inner.get(body.len() + 1..)?;
    }
    Some(Segment { selector, filters })
}

impl XmlPath {
    /// Compile an etree path; `None` when the syntax is not supported.
    pub fn compile(path: &str) -> Option<Self> {
        let body = path.strip_prefix('/').unwrap_or(path);
        let raw = split_outside(body, '/');
        let mut segments = Vec::with_capacity(raw.len());
        for (i, seg) in raw.iter().enumerate() {
            if seg.is_empty() {
                // `//` (an empty segment before another one) means descendants; a trailing `/`
                // selects nothing more.
                if i + 1 < raw.len() {
                    segments.push(Segment {
                        selector: Selector::Descendants,
                        filters: Vec::new(),
                    });
                }
                continue;
            }
            segments.push(parse_segment(seg)?);
        }
        Some(Self { segments })
    }

    /// First element the path selects in `doc` (searched from the document node).
    fn find_first(&self, doc: &XmlDoc) -> Option<usize> {
        let mut current = vec![0usize];
        for seg in &self.segments {
            let mut next: Vec<usize> = Vec::new();
            for &ctx in &current {
                let node = &doc.nodes[ctx];
                let mut cands: Vec<usize> = match &seg.selector {
                    Selector::SelfNode => vec![ctx],
                    Selector::Parent => node.parent.into_iter().collect(),
                    Selector::AllChildren => node.children.clone(),
                    Selector::Descendants => {
                        let mut all = vec![ctx];
                        doc.descendants(ctx, &mut all);
                        all
                    }
                    Selector::Children { prefix, tag } => node
                        .children
                        .iter()
                        .copied()
                        .filter(|&c| doc.nodes[c].matches(prefix.as_deref(), tag))
                        .collect(),
                };
                for f in &seg.filters {
                    cands = doc.apply_filter(cands, f);
                }
                for c in cands {
                    if !next.contains(&c) {
                        next.push(c);
                    }
                }
            }
            current = next;
        }
        // Index 0 is the document itself, not an element.
        current.into_iter().find(|&i| i != 0)
    }
}

/// An element of a parsed document, with what paths and helpers read.
#[derive(Debug)]
struct XmlElement {
    tag: String,
    prefix: Option<String>,
    attrs: Vec<(String, String)>,
    parent: Option<usize>,
    children: Vec<usize>,
    /// etree `Element.Text()`: the character data right after the start tag, up to the first
    /// child element (comments are skipped).
    text: String,
}

impl XmlElement {
    fn matches(&self, prefix: Option<&str>, tag: &str) -> bool {
        self.tag == tag && prefix.is_none_or(|p| self.prefix.as_deref() == Some(p))
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed XML document that owns its data (so that it can be cached); element 0 is the
/// document node.
#[derive(Debug)]
pub struct XmlDoc {
    nodes: Vec<XmlElement>,
}

impl XmlDoc {
    /// Parse `xml`; `None` when it is not well-formed.
    pub fn parse(xml: &str) -> Option<Self> {
        let doc = roxmltree::Document::parse(xml).ok()?;
        let mut nodes = vec![XmlElement {
            tag: String::new(),
            prefix: None,
            attrs: Vec::new(),
            parent: None,
            children: Vec::new(),
            text: String::new(),
        }];
        let mut stack: Vec<(Node<'_, '_>, usize)> = vec![(doc.root(), 0)];
        while let Some((node, idx)) = stack.pop() {
            let mut child_elems = Vec::new();
            for ch in node.children().filter(Node::is_element) {
                let i = nodes.len();
                let ns = ch.tag_name().namespace();
                nodes.push(XmlElement {
                    tag: ch.tag_name().name().to_owned(),
                    prefix: ns.and_then(|uri| ch.lookup_prefix(uri)).map(str::to_owned),
                    attrs: ch
                        .attributes()
                        .map(|a| (a.name().to_owned(), a.value().to_owned()))
                        .collect(),
                    parent: Some(idx),
                    children: Vec::new(),
                    text: leading_text(&ch),
                });
                child_elems.push(i);
                stack.push((ch, i));
            }
            nodes[idx].children = child_elems;
        }
        Some(Self { nodes })
    }

    fn descendants(&self, idx: usize, out: &mut Vec<usize>) {
        for &c in &self.nodes[idx].children {
            out.push(c);
            self.descendants(c, out);
        }
    }

    fn apply_filter(&self, cands: Vec<usize>, f: &Filter) -> Vec<usize> {
        let el = |i: usize| &self.nodes[i];
        match f {
            Filter::Position(n) => {
                let idx = if *n > 0 {
                    (*n - 1) as usize
                } else {
                    cands.len().wrapping_sub(n.unsigned_abs() as usize)
                };
                cands.get(idx).copied().into_iter().collect()
            }
            Filter::HasAttr(a) => cands
                .into_iter()
                .filter(|&c| el(c).attr(a).is_some())
                .collect(),
            Filter::AttrEquals(a, v) => cands
                .into_iter()
                .filter(|&c| el(c).attr(a) == Some(v.as_str()))
                .collect(),
            Filter::HasChild(t) => cands
                .into_iter()
                .filter(|&c| el(c).children.iter().any(|&ch| el(ch).tag == *t))
                .collect(),
            Filter::ChildText(t, v) => cands
                .into_iter()
                .filter(|&c| {
                    el(c)
                        .children
                        .iter()
                        .any(|&ch| el(ch).tag == *t && el(ch).text == *v)
                })
                .collect(),
            Filter::Text(v) => cands.into_iter().filter(|&c| el(c).text == *v).collect(),
        }
    }

    /// etree `FindElementPath(path).Text()`, `""` when nothing matches.
    pub fn node_value(&self, path: &XmlPath) -> &str {
        path.find_first(self)
            .map_or("", |i| self.nodes[i].text.as_str())
    }

    /// Attribute `attr` of the first element `path` selects, `""` when absent.
    pub fn attribute_value(&self, path: &XmlPath, attr: &str) -> &str {
        path.find_first(self)
            .and_then(|i| self.nodes[i].attr(attr))
            .unwrap_or("")
    }
}

fn leading_text(node: &Node<'_, '_>) -> String {
    let mut text = String::new();
    for ch in node.children() {
        if ch.is_text() {
            text.push_str(ch.text().unwrap_or(""));
        } else if !ch.is_comment() {
            break;
        }
    }
    text
}

/// A document text with its parse (`None` when it is not well-formed).
type CachedDoc = (Box<str>, Option<Rc<XmlDoc>>);

thread_local! {
    /// The last document parsed on this thread: Windows event parsers read a dozen fields of
    /// the same event one after the other, and this saves reparsing it for each.
    static LAST_DOC: RefCell<Option<CachedDoc>> = const { RefCell::new(None) };
}

/// Parse `xml`, reusing this thread's previous parse of the same text.
pub fn parse_cached(xml: &str) -> Option<Rc<XmlDoc>> {
    LAST_DOC.with(|cell| {
        if let Some((text, doc)) = &*cell.borrow()
            && **text == *xml
        {
            return doc.clone();
        }
        let doc = XmlDoc::parse(xml).map(Rc::new);
        *cell.borrow_mut() = Some((xml.into(), doc.clone()));
        doc
    })
}

/// CrowdSec `XMLGetNodeValue(xml, path)`: text of the first element found, `""` on any error.
pub fn get_node_value(xml: &str, path: &XmlPath) -> String {
    parse_cached(xml)
        .map(|d| d.node_value(path).to_owned())
        .unwrap_or_default()
}

/// CrowdSec `XMLGetAttributeValue(xml, path, attr)`: attribute of the first element found.
pub fn get_attribute_value(xml: &str, path: &XmlPath, attr: &str) -> String {
    parse_cached(xml)
        .map(|d| d.attribute_value(path, attr).to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f}'/><EventID>1</EventID><Computer>host</Computer></System><EventData><Data Name='Image'>C:\Windows\cmd.exe</Data><Data Name='User'>NT &amp; AUTHORITY</Data><Data>third</Data></EventData></Event>"#;

    fn check(path: &str, expected: &str) {
        let p = XmlPath::compile(path).expect("path compiles");
        assert_eq!(get_node_value(EVENT, &p), expected, "{path}");
    }

    #[test]
    fn node_values() {
        check(
            "/Event/EventData[1]/Data[@Name='Image']",
            r"C:\Windows\cmd.exe",
        );
        check("/Event/EventData[1]/Data[@Name='User']", "NT & AUTHORITY");
        check("/Event/EventData[1]/Data[3]", "third");
        check("/Event/EventData[1]/Data[-1]", "third");
        check("/Event/System[1]/EventID", "1");
        check("/Event/System/Computer", "host");
        check("//Computer", "host");
        check("Event/System/EventID", "1");
        check("/Event/EventData/Data[@Name='Nope']", "");
        check("/Event/System[EventID='1']/Computer", "host");
        check("/Event/EventData/Data[text()='third']", "third");
    }

    /// The hub's Windows event log tests, with what their asserts expect.
    #[test]
    fn hub_windows_events() {
        let tests = crate::shared_dir().join("hub/.tests");
        let first_line = |name: &str| {
            let text = std::fs::read_to_string(tests.join(name)).expect("hub test log is readable");
            text.lines().next().expect("log has a line").to_owned()
        };
        let node = |xml: &str, path: &str| {
            get_node_value(xml, &XmlPath::compile(path).expect("path compiles"))
        };
        let attr = |xml: &str, path: &str, name: &str| {
            get_attribute_value(xml, &XmlPath::compile(path).expect("path compiles"), name)
        };
        let iis = first_line("iis-xml-logs/iis-logs.log");
        assert_eq!(
            node(&iis, "/Event/System[1]/Channel"),
            "Microsoft-IIS-Logging/Logs"
        );
        assert_eq!(node(&iis, "/Event/System[1]/EventID"), "6200");
        assert_eq!(
            node(&iis, "/Event/System[1]/Computer"),
            "exchange-1.mydomain.test"
        );
        assert_eq!(
            attr(&iis, "/Event/System[1]/Provider", "Name"),
            "Microsoft-Windows-IIS-Logging"
        );
        assert_eq!(
            attr(&iis, "/Event/System[1]/Security", "UserID"),
            "S-1-5-18"
        );
        assert_eq!(
            node(&iis, "/Event/EventData[1]/Data[@Name='cs-method']"),
            "GET"
        );
        assert_eq!(
            node(&iis, "/Event/EventData[1]/Data[@Name='cs-uri-query']"),
            "bla=powershell&CorrelationID=;&cafeReqId=f1351975-5024-4240-9508-3b4ea50eaf70;"
        );
        let sysmon = first_line("cve-2023-23397/cve-2023-23397.log");
        assert_eq!(
            node(&sysmon, "/Event/EventData[1]/Data[@Name='Image']"),
            r"C:\Windows\System32\rundll32.exe"
        );
        assert_eq!(
            node(&sysmon, "/Event/EventData[1]/Data[@Name='User']"),
            r"MYDOMAIN\Administrator"
        );
        assert_eq!(
            node(&sysmon, "/Event/EventData[1]/Data[@Name='RuleName']"),
            "-"
        );
    }

    #[test]
    fn attributes_and_errors() {
        let p = XmlPath::compile("/Event/System/Provider").expect("compiles");
        assert_eq!(
            get_attribute_value(EVENT, &p, "Name"),
            "Microsoft-Windows-Sysmon"
        );
        assert_eq!(get_attribute_value(EVENT, &p, "Nope"), "");
        assert_eq!(get_node_value("<not xml", &p), "");
        assert!(XmlPath::compile("/a[").is_none());
        assert!(XmlPath::compile("/a[foo()='x']").is_none());
    }
}
