//! What the symbol index records about one definition: its name, kind, enclosing definition,
//! signature, first docstring line and line span.

use serde::{Deserialize, Serialize};

/// The kind of a definition, across languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    /// A class (Python, Java, JavaScript/TypeScript), or a Rust struct/enum/trait, a Go type.
    Class,
    /// A function defined inside a class (or a Rust impl/trait, a Go method with a receiver).
    Method,
    /// A function not directly inside a class: module level or nested in another function.
    Function,
    /// A module-level (or class-level) assignment, constant or static.
    Variable,
}

impl SymbolKind {
    /// The word used in tool output ("class", "method", …).
    pub fn label(self) -> &'static str {
        match self {
            SymbolKind::Class => "class",
            SymbolKind::Method => "method",
            SymbolKind::Function => "function",
            SymbolKind::Variable => "variable",
        }
    }

    /// Functions and methods: what `search_method` finds.
    pub fn is_callable(self) -> bool {
        matches!(self, SymbolKind::Method | SymbolKind::Function)
    }
}

/// One definition in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The enclosing definitions' names, outermost first (`["Outer", "Inner"]` for a method of
    /// a nested class); empty at module level.
    pub parents: Vec<String>,
    /// The definition's header on one line, whitespace collapsed, at most 240 characters
    /// (`def get(self, url, **kwargs)`), decorators excluded.
    pub signature: String,
    /// Decorators, as written without the `@`.
    pub decorators: Vec<String>,
    /// The first non-empty line of the docstring or doc comment.
    pub doc: Option<String>,
    /// First line, 1-based (the first decorator's line when decorated).
    pub start: usize,
    /// Last line, inclusive.
    pub end: usize,
}

impl Symbol {
    /// `Outer.Inner.name`.
    pub fn qualified_name(&self) -> String {
        let mut name = self.parents.join(".");
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&self.name);
        name
    }

    /// The innermost enclosing definition, e.g. the class of a method.
    pub fn parent(&self) -> Option<&str> {
        self.parents.last().map(String::as_str)
    }

    /// Nesting depth: 0 at module level.
    pub fn depth(&self) -> usize {
        self.parents.len()
    }
}

/// Collapses runs of whitespace to one space and cuts at 240 characters.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > 240 {
            let cut: String = out.chars().take(239).collect();
            return format!("{cut}…");
        }
    }
    out
}
