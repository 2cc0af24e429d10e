//! Parsing files into symbols with tree-sitter: one parser per thread and language, and the
//! helpers every language's walker shares. A file that does not parse cleanly is still indexed
//! as far as tree-sitter recovers it.
//!
//! Tree-sitter's C core allocates and frees many small nodes per parse; it is pointed at
//! mimalloc (thread-local free lists) once, before the first parser is made, which makes a cold
//! index measurably faster than the system allocator when parsing on several threads.

mod generic;
mod python;

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::Once;

use tree_sitter::{Node, Parser};

use super::lang::Lang;
use super::symbol::Symbol;

/// The definitions found in one file.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub symbols: Vec<Symbol>,
    /// True when tree-sitter had to recover from a syntax error somewhere in the file.
    pub has_errors: bool,
}

thread_local! {
    static PYTHON: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static RUST: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static GO: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static JAVA: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static JAVASCRIPT: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static TYPESCRIPT: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static TSX: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parses `text` as `lang` and lists its definitions in source order.
pub fn parse(lang: Lang, text: &str) -> Parsed {
    match lang {
        Lang::Python => with_parser(&PYTHON, tree_sitter_python::LANGUAGE.into(), text, |root| {
            python::symbols(root, text)
        }),
        Lang::Rust => with_parser(&RUST, tree_sitter_rust::LANGUAGE.into(), text, |root| {
            generic::symbols(root, text, &generic::RUST)
        }),
        Lang::Go => with_parser(&GO, tree_sitter_go::LANGUAGE.into(), text, |root| {
            generic::symbols(root, text, &generic::GO)
        }),
        Lang::Java => with_parser(&JAVA, tree_sitter_java::LANGUAGE.into(), text, |root| {
            generic::symbols(root, text, &generic::JAVA)
        }),
        Lang::JavaScript => with_parser(
            &JAVASCRIPT,
            tree_sitter_javascript::LANGUAGE.into(),
            text,
            |root| generic::symbols(root, text, &generic::JAVASCRIPT),
        ),
        Lang::TypeScript => with_parser(
            &TYPESCRIPT,
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            text,
            |root| generic::symbols(root, text, &generic::TYPESCRIPT),
        ),
        Lang::Tsx => with_parser(
            &TSX,
            tree_sitter_typescript::LANGUAGE_TSX.into(),
            text,
            |root| generic::symbols(root, text, &generic::TYPESCRIPT),
        ),
    }
}

fn with_parser(
    slot: &'static std::thread::LocalKey<RefCell<Option<Parser>>>,
    language: tree_sitter::Language,
    text: &str,
    extract: impl FnOnce(Node) -> Vec<Symbol>,
) -> Parsed {
    slot.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            use_mimalloc();
            let mut parser = Parser::new();
            if parser.set_language(&language).is_err() {
                return Parsed::default();
            }
            *cell = Some(parser);
        }
        let Some(parser) = cell.as_mut() else {
            return Parsed::default();
        };
        let Some(tree) = parser.parse(text, None) else {
            return Parsed::default();
        };
        let root = tree.root_node();
        Parsed {
            symbols: extract(root),
            has_errors: root.has_error(),
        }
    })
}

/// The symbols under construction and the names of the definitions enclosing the walk.
struct Walk<'a> {
    src: &'a str,
    parents: Vec<String>,
    out: Vec<Symbol>,
}

impl<'a> Walk<'a> {
    fn new(src: &'a str) -> Walk<'a> {
        Walk {
            src,
            parents: Vec::new(),
            out: Vec::new(),
        }
    }

    fn push(&mut self, symbol: Symbol) {
        self.out.push(symbol);
    }
}

/// The node's source text ("" if the node's bytes are not on character boundaries).
fn text_of<'a>(node: Node, src: &'a str) -> &'a str {
    src.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// 1-based first and last line of a node.
fn line_span(node: Node) -> (usize, usize) {
    let start = node.start_position().row + 1;
    let end_pos = node.end_position();
    // A node ending at column 0 ends on the line before (its trailing newline).
    let end = if end_pos.column == 0 && end_pos.row + 1 > start {
        end_pos.row
    } else {
        end_pos.row + 1
    };
    (start, end.max(start))
}

/// Installs mimalloc as tree-sitter's allocator, once per process, before any parser exists.
/// Every tree-sitter object of this crate is made through [`with_parser`], after this ran, so
/// no object allocated by one allocator is ever freed by the other.
fn use_mimalloc() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: the four functions are one allocator family (mimalloc), never return null
        // (they abort, as tree-sitter's own defaults do), align like malloc, and are installed
        // before this process makes any tree-sitter object; `Once` serialises the call.
        unsafe {
            tree_sitter::set_allocator(Some(tree_sitter::Allocator {
                malloc: ts_malloc,
                calloc: ts_calloc,
                realloc: ts_realloc,
                free: ts_free,
            }));
        }
    });
}

fn non_null(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() && size > 0 {
        // Out of memory: tree-sitter's default allocator aborts too.
        std::process::abort();
    }
    ptr
}

unsafe extern "C" fn ts_malloc(size: usize) -> *mut c_void {
    // SAFETY: plain allocation.
    non_null(unsafe { libmimalloc_sys::mi_malloc(size) }, size)
}

unsafe extern "C" fn ts_calloc(count: usize, size: usize) -> *mut c_void {
    let Some(total) = count.checked_mul(size) else {
        std::process::abort();
    };
    // SAFETY: plain zeroed allocation.
    non_null(unsafe { libmimalloc_sys::mi_zalloc(total) }, total)
}

unsafe extern "C" fn ts_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: `ptr` is null or came from this allocator (see `use_mimalloc`).
    non_null(unsafe { libmimalloc_sys::mi_realloc(ptr, size) }, size)
}

unsafe extern "C" fn ts_free(ptr: *mut c_void) {
    // SAFETY: `ptr` is null or came from this allocator (see `use_mimalloc`).
    unsafe { libmimalloc_sys::mi_free(ptr) }
}
