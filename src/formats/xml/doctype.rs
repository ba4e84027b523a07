//! The DOCTYPE as data: root name and external identifiers are recorded, nothing is fetched
//! and nothing is expanded; an internal subset that declares entities is flagged for refusal.

use serde::Serialize;

/// What a `<!DOCTYPE ...>` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doctype {
    pub name: String,
    pub public_id: Option<String>,
    pub system_id: Option<String>,
    /// An internal subset `[...]` was present (its declarations are ignored).
    pub internal_subset: bool,
    /// The internal subset declares entities (`<!ENTITY`): the document is refused.
    pub declares_entities: bool,
    /// Always false: external DTDs are never fetched and entities never expanded.
    pub expanded: bool,
}

/// Parses the content of a DOCTYPE event (the text after `<!DOCTYPE`, without the final `>`).
pub fn parse_doctype(raw: &str) -> Doctype {
    let (head, subset) = match raw.find('[') {
        Some(i) => (&raw[..i], Some(&raw[i..])),
        None => (raw, None),
    };
    let mut words = Tokens(head);
    let name = words.next().unwrap_or_default();
    let (mut public_id, mut system_id) = (None, None);
    match words.next().as_deref() {
        Some("SYSTEM") => system_id = words.next(),
        Some("PUBLIC") => {
            public_id = words.next();
            system_id = words.next();
        }
        _ => {}
    }
    Doctype {
        name,
        public_id,
        system_id,
        internal_subset: subset.is_some(),
        // Case-insensitive on purpose: refusing a misspelt declaration costs nothing.
        declares_entities: subset.is_some_and(|s| s.to_ascii_uppercase().contains("<!ENTITY")),
        expanded: false,
    }
}

/// Whitespace-separated words, a quoted string being one word (quotes removed).
struct Tokens<'a>(&'a str);

impl Iterator for Tokens<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let s = self.0.trim_start();
        let first = s.chars().next()?;
        let (word, rest) = if first == '"' || first == '\'' {
            let body = &s[1..];
            match body.find(first) {
                Some(end) => (&body[..end], &body[end + 1..]),
                None => (body, ""),
            }
        } else {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            (&s[..end], &s[end..])
        };
        self.0 = rest;
        Some(word.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_and_subsets() {
        let d =
            parse_doctype(r#" cXML SYSTEM "http://xml.cXML.org/schemas/cXML/1.2.050/cXML.dtd""#);
        assert_eq!(d.name, "cXML");
        assert_eq!(
            d.system_id.as_deref(),
            Some("http://xml.cXML.org/schemas/cXML/1.2.050/cXML.dtd")
        );
        assert!(!d.internal_subset && !d.declares_entities && !d.expanded);
        let d = parse_doctype(r#"html PUBLIC "-//W3C//DTD XHTML 1.0//EN" 'x.dtd'"#);
        assert_eq!(d.public_id.as_deref(), Some("-//W3C//DTD XHTML 1.0//EN"));
        assert_eq!(d.system_id.as_deref(), Some("x.dtd"));
        let d = parse_doctype(r#"x [ <!ELEMENT x ANY> ]"#);
        assert!(d.internal_subset && !d.declares_entities);
        let d = parse_doctype(r#"x [ <!ENTITY a "b"> ]"#);
        assert!(d.declares_entities);
    }
}
