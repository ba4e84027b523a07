//! The element tree read from a document (a flat arena: no recursion, so no deep-tree stack
//! overflow on drop) and namespace-aware lookups by local name.

use super::problem::Pos;

/// cXML has no namespace; UBL uses these for its `cbc:` and `cac:` components. Lookups in
/// this module spell names with these fixed prefixes, whatever prefix the document used.
pub const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
pub const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";

/// One element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Local name (prefix removed).
    pub name: String,
    /// Namespace URI the prefix (or default namespace) resolved to.
    pub ns: Option<String>,
    /// Attributes by local name, values unescaped; `xmlns` declarations left out.
    pub attrs: Vec<(String, String)>,
    /// Direct character data (entities and CDATA resolved), untrimmed.
    pub text: String,
    pub children: Vec<usize>,
    pub parent: Option<usize>,
    /// Where the start tag begins.
    pub at: Pos,
}

/// All elements of a document; `nodes[0]` is the root when there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    pub nodes: Vec<Node>,
}

/// Splits a lookup name like `cbc:ID` into (namespace, local name); no prefix: no namespace.
fn split(name: &str) -> (Option<&'static str>, &str) {
    match name.split_once(':') {
        Some(("cbc", local)) => (Some(CBC), local),
        Some(("cac", local)) => (Some(CAC), local),
        Some((_, local)) => (None, local),
        None => (None, name),
    }
}

impl Doc {
    pub fn root(&self) -> Option<usize> {
        (!self.nodes.is_empty()).then_some(0)
    }

    pub fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i)
    }

    fn is(&self, i: usize, name: &str) -> bool {
        let (ns, local) = split(name);
        self.node(i)
            .is_some_and(|n| n.name == local && n.ns.as_deref() == ns)
    }

    /// Children of `i` named `name` (see [`CBC`] for prefixes), in document order.
    pub fn children<'a>(&'a self, i: usize, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        let kids = self
            .node(i)
            .map(|n| n.children.as_slice())
            .unwrap_or_default();
        kids.iter().copied().filter(move |c| self.is(*c, name))
    }

    pub fn child(&self, i: usize, name: &str) -> Option<usize> {
        self.children(i, name).next()
    }

    /// The first element reached from `i` following `path` child by child (first match at
    /// each step that leads to a full match).
    pub fn find(&self, i: usize, path: &[&str]) -> Option<usize> {
        let Some((first, rest)) = path.split_first() else {
            return Some(i);
        };
        self.children(i, first).find_map(|c| self.find(c, rest))
    }

    /// Descendants of `i` named `name`, in document order (iterative walk).
    pub fn descendants(&self, i: usize, name: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self
            .node(i)
            .map(|n| n.children.iter().rev().copied().collect())
            .unwrap_or_default();
        while let Some(c) = stack.pop() {
            if self.is(c, name) {
                out.push(c);
            }
            if let Some(n) = self.node(c) {
                stack.extend(n.children.iter().rev());
            }
        }
        out
    }

    /// Trimmed direct text of `i`; `None` when blank.
    pub fn text(&self, i: usize) -> Option<String> {
        let t = self.node(i)?.text.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// Trimmed text of the element at `path` under `i`.
    pub fn text_at(&self, i: usize, path: &[&str]) -> Option<String> {
        // The first element along the path that has text: `find` alone would stop at an
        // empty first candidate (e.g. an empty `<cbc:ID/>` before a filled one).
        let (last, parents) = path.split_last()?;
        let parent = self.find(i, parents)?;
        self.children(parent, last).find_map(|c| self.text(c))
    }

    /// Trimmed attribute value by local name; `None` when absent or blank.
    pub fn attr(&self, i: usize, name: &str) -> Option<String> {
        let (_, v) = self.node(i)?.attrs.iter().find(|(k, _)| k == name)?;
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    pub fn at(&self, i: usize) -> Pos {
        self.node(i).map(|n| n.at).unwrap_or_default()
    }

    /// `/cXML/Request/OrderRequest/ItemOut[2]`: local names, with a 1-based index where the
    /// parent has several children of that name.
    pub fn path(&self, i: usize) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(i);
        // Bounded by the node count: parents always precede children, but never trust that.
        for _ in 0..=self.nodes.len() {
            let Some(n) = cur.and_then(|c| self.node(c).map(|n| (c, n))) else {
                break;
            };
            let (c, node) = n;
            let mut part = node.name.clone();
            if let Some(p) = node.parent.and_then(|p| self.node(p)) {
                let same: Vec<usize> = p
                    .children
                    .iter()
                    .copied()
                    .filter(|s| self.node(*s).is_some_and(|s| s.name == node.name))
                    .collect();
                if same.len() > 1 {
                    let k = same.iter().position(|s| *s == c).unwrap_or(0) + 1;
                    part = format!("{part}[{k}]");
                }
            }
            parts.push(part);
            cur = node.parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }
}
