//! Definitions of the brace languages (Rust, Go, Java, JavaScript, TypeScript) from a tree-sitter tree,
//! driven by a table of node kinds per language: classes (structs, enums, traits, interfaces,
//! types), functions, methods (functions inside a class, an `impl`, or with a Go receiver) and
//! top-level constants; doc comments directly above a definition and Rust attributes.
//!
//! The walk is bounded by [`MAX_DEPTH`] so pathological nesting cannot overflow the stack.

use tree_sitter::Node;

use super::{Walk, line_span, text_of};
use crate::repo::symbol::{Symbol, SymbolKind, one_line};

/// Nesting depth at which the walk stops.
const MAX_DEPTH: usize = 200;

/// Which node kinds define what, in one language.
pub struct Rules {
    pub classes: &'static [&'static str],
    /// Functions: methods when directly inside a class or an impl.
    pub functions: &'static [&'static str],
    /// Always methods (Java methods, JavaScript class members, Go methods with a receiver).
    pub methods: &'static [&'static str],
    /// Named constants and variables, recorded outside function bodies only; a JavaScript
    /// declarator whose value is a function is recorded as a function.
    pub variables: &'static [&'static str],
    /// Containers named by their `type` field (Rust `impl`): their functions are methods of it.
    pub impls: &'static [&'static str],
    /// Containers that only add their name to the path of what they hold (Rust `mod`).
    pub modules: &'static [&'static str],
    /// Sibling nodes above a definition that are its attributes (Rust `#[…]`).
    pub attributes: &'static [&'static str],
}

pub const RUST: Rules = Rules {
    classes: &[
        "struct_item",
        "enum_item",
        "union_item",
        "trait_item",
        "type_item",
    ],
    functions: &[
        "function_item",
        "function_signature_item",
        "macro_definition",
    ],
    methods: &[],
    variables: &["const_item", "static_item"],
    impls: &["impl_item"],
    modules: &["mod_item"],
    attributes: &["attribute_item"],
};

pub const GO: Rules = Rules {
    classes: &["type_spec", "type_alias"],
    functions: &["function_declaration"],
    methods: &["method_declaration"],
    variables: &["const_spec", "var_spec"],
    impls: &[],
    modules: &[],
    attributes: &[],
};

pub const JAVA: Rules = Rules {
    classes: &[
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
    ],
    functions: &[],
    methods: &["method_declaration", "constructor_declaration"],
    variables: &["field_declaration", "constant_declaration"],
    impls: &[],
    modules: &[],
    attributes: &[],
};

pub const JAVASCRIPT: Rules = Rules {
    classes: &["class_declaration", "class"],
    functions: &["function_declaration", "generator_function_declaration"],
    methods: &["method_definition"],
    variables: &["variable_declarator"],
    impls: &[],
    modules: &[],
    attributes: &[],
};

/// TypeScript and TSX (one table: TSX only adds JSX expressions). Interfaces, enums, type
/// aliases and abstract classes are classes; signatures in interfaces and overloads are methods
/// and functions; `namespace`/`module` blocks name what they hold; decorators are attributes.
pub const TYPESCRIPT: Rules = Rules {
    classes: &[
        "class_declaration",
        "abstract_class_declaration",
        "class",
        "interface_declaration",
        "enum_declaration",
        "type_alias_declaration",
    ],
    functions: &[
        "function_declaration",
        "generator_function_declaration",
        "function_signature",
    ],
    methods: &[
        "method_definition",
        "method_signature",
        "abstract_method_signature",
    ],
    variables: &["variable_declarator", "public_field_definition"],
    impls: &[],
    modules: &["internal_module", "module"],
    attributes: &["decorator"],
};

/// What the nodes being walked are inside of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    TopLevel,
    Class,
    Function,
}

/// The definitions in a parsed file, in source order.
pub fn symbols(root: Node, src: &str, rules: &Rules) -> Vec<Symbol> {
    let mut walk = Walk::new(src);
    visit_children(root, &mut walk, rules, Scope::TopLevel, 0);
    walk.out
}

fn visit_children(node: Node, walk: &mut Walk, rules: &Rules, scope: Scope, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        visit(child, walk, rules, scope, depth + 1);
    }
}

fn visit(node: Node, walk: &mut Walk, rules: &Rules, scope: Scope, depth: usize) {
    let kind = node.kind();
    if rules.classes.contains(&kind) {
        define(node, walk, rules, SymbolKind::Class, Scope::Class, depth);
    } else if rules.methods.contains(&kind) {
        define(
            node,
            walk,
            rules,
            SymbolKind::Method,
            Scope::Function,
            depth,
        );
    } else if rules.functions.contains(&kind) {
        let as_kind = if scope == Scope::Class {
            SymbolKind::Method
        } else {
            SymbolKind::Function
        };
        define(node, walk, rules, as_kind, Scope::Function, depth);
    } else if rules.variables.contains(&kind) && scope != Scope::Function {
        variable(node, walk, rules, depth);
    } else if rules.impls.contains(&kind) || rules.modules.contains(&kind) {
        let field = if rules.impls.contains(&kind) {
            "type"
        } else {
            "name"
        };
        let inner = if rules.impls.contains(&kind) {
            Scope::Class
        } else {
            Scope::TopLevel
        };
        match node.child_by_field_name(field) {
            Some(name) => {
                walk.parents.push(base_type(text_of(name, walk.src)));
                visit_children(node, walk, rules, inner, depth);
                walk.parents.pop();
            }
            None => visit_children(node, walk, rules, inner, depth),
        }
    } else {
        visit_children(node, walk, rules, scope, depth);
    }
}

/// Records a class, function or method, then walks its body with its name as parent.
fn define(
    node: Node,
    walk: &mut Walk,
    rules: &Rules,
    kind: SymbolKind,
    inner: Scope,
    depth: usize,
) {
    let Some(name) = node.child_by_field_name("name") else {
        visit_children(node, walk, rules, inner, depth);
        return;
    };
    let name = text_of(name, walk.src).to_string();
    let receiver = node
        .child_by_field_name("receiver")
        .map(|r| receiver_type(text_of(r, walk.src)));
    let (decorators, doc) = leading(node, walk.src, rules);
    let (start, end) = line_span(node);
    let mut parents = walk.parents.clone();
    parents.extend(receiver.clone());
    walk.push(Symbol {
        name: name.clone(),
        kind,
        parents,
        signature: header(node, walk.src),
        decorators,
        doc,
        start,
        end,
    });
    let pushed = 1 + usize::from(receiver.is_some());
    walk.parents.extend(receiver);
    walk.parents.push(name);
    visit_children(node, walk, rules, inner, depth);
    for _ in 0..pushed {
        walk.parents.pop();
    }
}

/// Records a constant or variable; a declarator holding a function is recorded as one.
fn variable(node: Node, walk: &mut Walk, rules: &Rules, depth: usize) {
    let name = node.child_by_field_name("name").or_else(|| {
        node.child_by_field_name("declarator")
            .and_then(|d| d.child_by_field_name("name"))
    });
    let Some(name) = name else {
        visit_children(node, walk, rules, Scope::TopLevel, depth);
        return;
    };
    let value_is_function = node.child_by_field_name("value").is_some_and(|v| {
        matches!(
            v.kind(),
            "arrow_function" | "function_expression" | "function" | "generator_function"
        )
    });
    let kind = if value_is_function {
        SymbolKind::Function
    } else {
        SymbolKind::Variable
    };
    let statement = node
        .parent()
        .filter(|p| p.kind().ends_with("declaration"))
        .unwrap_or(node);
    let (start, end) = line_span(statement);
    let (decorators, doc) = leading(statement, walk.src, rules);
    walk.push(Symbol {
        name: text_of(name, walk.src).to_string(),
        kind,
        parents: walk.parents.clone(),
        signature: one_line(text_of(statement, walk.src).lines().next().unwrap_or("")),
        decorators,
        doc,
        start,
        end,
    });
}

/// The definition's header: from its start to its body, or its first line.
fn header(node: Node, src: &str) -> String {
    let end = node
        .child_by_field_name("body")
        .map_or(node.end_byte(), |b| b.start_byte());
    let text = src.get(node.start_byte()..end).unwrap_or("");
    if node.child_by_field_name("body").is_some() {
        one_line(text)
    } else {
        one_line(text.lines().next().unwrap_or(""))
    }
}

/// The attributes and the first line of the doc comment directly above `node`.
fn leading(node: Node, src: &str, rules: &Rules) -> (Vec<String>, Option<String>) {
    // `export class …`: the doc comment sits above the export statement.
    let exported = node.parent().filter(|p| p.kind() == "export_statement");
    // Decorators written inside the definition's node or its export statement (TypeScript).
    let mut inner = Vec::new();
    for holder in exported.into_iter().chain([node]) {
        let mut cursor = holder.walk();
        for child in holder.named_children(&mut cursor) {
            if rules.attributes.contains(&child.kind()) {
                inner.push(attribute_text(text_of(child, src)));
            }
        }
    }
    let node = exported.unwrap_or(node);
    let mut decorators = Vec::new();
    let mut comments = Vec::new();
    let mut line = node.start_position().row;
    let mut sibling = node.prev_named_sibling();
    while let Some(prev) = sibling {
        if prev.end_position().row + 1 < line {
            break;
        }
        if rules.attributes.contains(&prev.kind()) {
            decorators.push(attribute_text(text_of(prev, src)));
        } else if prev.kind().contains("comment") {
            comments.push(text_of(prev, src));
        } else {
            break;
        }
        line = prev.start_position().row;
        sibling = prev.prev_named_sibling();
    }
    decorators.reverse();
    decorators.extend(inner);
    comments.reverse();
    let doc = comments
        .iter()
        .flat_map(|c| c.lines())
        .map(|l| {
            l.trim()
                .trim_start_matches("/**")
                .trim_start_matches("///")
                .trim_start_matches("//!")
                .trim_start_matches("//")
                .trim_start_matches("/*")
                .trim_end_matches("*/")
                .trim_start_matches('*')
                .trim()
        })
        .find(|l| !l.is_empty())
        .map(one_line);
    (decorators, doc)
}

/// An attribute as the index shows it: `#[derive(Debug)]` → `derive(Debug)`, `@Input()` →
/// `Input()`.
fn attribute_text(text: &str) -> String {
    let inner = match text.strip_prefix("#[") {
        Some(rest) => rest.strip_suffix(']').unwrap_or(rest),
        None => text.strip_prefix('@').unwrap_or(text),
    };
    one_line(inner)
}

/// `Foo<T>` → `Foo`, `crate::a::Foo` → `Foo`.
fn base_type(text: &str) -> String {
    let no_generics = text.split('<').next().unwrap_or(text);
    no_generics
        .rsplit("::")
        .next()
        .unwrap_or(no_generics)
        .trim()
        .to_string()
}

/// A Go receiver `(s *Server[T])` → `Server`.
fn receiver_type(text: &str) -> String {
    let inner = text.trim_matches(|c| c == '(' || c == ')');
    let ty = inner.split_whitespace().last().unwrap_or(inner);
    let ty = ty.trim_start_matches('*');
    base_type(ty.split('[').next().unwrap_or(ty))
}
