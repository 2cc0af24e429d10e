//! The symbol index beyond Python: Rust, Go, Java, JavaScript and TypeScript fixtures.

mod support;

use ponder::repo::{RepoIndex, SymbolKind, Workspace, call_tool};
use serde_json::json;

const RUST: &str = r#"//! Crate docs.

/// Largest size.
pub const MAX: usize = 10;

/// A parsed config.
#[derive(Debug, Clone)]
pub struct Config {
    name: String,
}

impl Config {
    /// Makes one.
    pub fn new(name: &str) -> Config {
        Config { name: name.into() }
    }
}

pub trait Load {
    fn load(&self) -> Config;
}

mod helpers {
    pub fn trim(s: &str) -> &str {
        s.trim()
    }
}
"#;

const GO: &str = r#"package server

// Server answers requests.
type Server struct {
	addr string
}

const Port = 8080

// Start runs the server.
func (s *Server) Start() error {
	return nil
}

func New(addr string) *Server {
	return &Server{addr: addr}
}
"#;

const JAVA: &str = r#"package app;

/** A cache of values. */
public class Cache {
    private int size = 0;

    public Cache(int size) {
        this.size = size;
    }

    /** Gets a value. */
    public String get(String key) {
        return key;
    }

    interface Listener {
        void onEvict(String key);
    }
}
"#;

const JS: &str = r#"// Parses a query string.
export function parseQuery(text) {
  return text.split("&");
}

export const formatQuery = (parts) => parts.join("&");

const LIMIT = 5;

class Client {
  constructor(url) {
    this.url = url;
  }

  // Sends it.
  send(body) {
    return fetch(this.url, { body });
  }
}
"#;

const TS: &str = r#"/** Options of a store. */
export interface StoreOptions {
  name: string;
  load(key: string): Promise<string>;
}

export type Key = string | number;

export enum Mode {
  Read,
  Write,
}

/** Opens a store. */
export function open(options: StoreOptions): Store;
export function open(options: StoreOptions, mode?: Mode): Store {
  return new Store(options);
}

export const close = (store: Store): void => store.flush();

@sealed
export abstract class Base {
  abstract flush(): void;
}

export class Store extends Base {
  private cache = new Map<Key, string>();

  constructor(private options: StoreOptions) {
    super();
  }

  // Drops everything.
  @logged()
  flush(): void {
    this.cache.clear();
  }
}

namespace Internal {
  export function helper(): number {
    return 1;
  }
}
"#;

const TSX: &str = r#"import React from "react";

type Props = { label: string };

/** A button with a label. */
export function Button({ label }: Props) {
  return <button className="btn">{label}</button>;
}

export const Badge = ({ label }: Props) => <span>{label}</span>;

export class Panel extends React.Component<Props> {
  render() {
    return <div>{this.props.label}</div>;
  }
}
"#;

fn symbols_of(path: &str, text: &str) -> Vec<(String, SymbolKind, usize, usize)> {
    let dir = tempfile::tempdir().unwrap();
    support::fixture_repo(dir.path(), &[(path, text)]);
    let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
    let file = index.file(path).unwrap();
    assert!(!file.has_errors, "{path} should parse cleanly");
    file.symbols
        .iter()
        .map(|s| (s.qualified_name(), s.kind, s.start, s.end))
        .collect()
}

fn names(found: &[(String, SymbolKind, usize, usize)]) -> Vec<(&str, SymbolKind)> {
    found.iter().map(|(n, k, _, _)| (n.as_str(), *k)).collect()
}

#[test]
fn rust_items_methods_of_impls_and_modules() {
    let found = symbols_of("src/config.rs", RUST);
    assert_eq!(
        names(&found),
        [
            ("MAX", SymbolKind::Variable),
            ("Config", SymbolKind::Class),
            ("Config.new", SymbolKind::Method),
            ("Load", SymbolKind::Class),
            ("Load.load", SymbolKind::Method),
            ("helpers.trim", SymbolKind::Function),
        ]
    );
    assert_eq!(found[2].2..=found[2].3, 14..=16);
}

#[test]
fn rust_docs_attributes_and_signatures() {
    let dir = tempfile::tempdir().unwrap();
    support::fixture_repo(dir.path(), &[("src/config.rs", RUST)]);
    let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
    let file = index.file("src/config.rs").unwrap();
    let config = &file.symbols[1];
    assert_eq!(config.doc.as_deref(), Some("A parsed config."));
    assert_eq!(config.decorators, ["derive(Debug, Clone)"]);
    let new = &file.symbols[2];
    assert_eq!(new.signature, "pub fn new(name: &str) -> Config");
    assert_eq!(new.doc.as_deref(), Some("Makes one."));
    let out = call_tool(&index, "search_method_in_class", &json!(["new", "Config"])).unwrap();
    assert!(
        out.text.contains("Config { name: name.into() }"),
        "{}",
        out.text
    );
}

#[test]
fn go_types_functions_and_methods_with_receivers() {
    let found = symbols_of("server.go", GO);
    assert_eq!(
        names(&found),
        [
            ("Server", SymbolKind::Class),
            ("Port", SymbolKind::Variable),
            ("Server.Start", SymbolKind::Method),
            ("New", SymbolKind::Function),
        ]
    );
}

#[test]
fn java_classes_constructors_methods_fields_and_nested_interfaces() {
    let found = symbols_of("src/app/Cache.java", JAVA);
    assert_eq!(
        names(&found),
        [
            ("Cache", SymbolKind::Class),
            ("Cache.size", SymbolKind::Variable),
            ("Cache.Cache", SymbolKind::Method),
            ("Cache.get", SymbolKind::Method),
            ("Cache.Listener", SymbolKind::Class),
            ("Cache.Listener.onEvict", SymbolKind::Method),
        ]
    );
}

#[test]
fn javascript_functions_arrow_constants_classes_and_methods() {
    let found = symbols_of("lib/query.js", JS);
    assert_eq!(
        names(&found),
        [
            ("parseQuery", SymbolKind::Function),
            ("formatQuery", SymbolKind::Function),
            ("LIMIT", SymbolKind::Variable),
            ("Client", SymbolKind::Class),
            ("Client.constructor", SymbolKind::Method),
            ("Client.send", SymbolKind::Method),
        ]
    );
    assert_eq!(found[0].2..=found[0].3, 2..=4);
}

#[test]
fn typescript_interfaces_types_enums_overloads_classes_and_namespaces() {
    let found = symbols_of("src/store.ts", TS);
    assert_eq!(
        names(&found),
        [
            ("StoreOptions", SymbolKind::Class),
            ("StoreOptions.load", SymbolKind::Method),
            ("Key", SymbolKind::Class),
            ("Mode", SymbolKind::Class),
            ("open", SymbolKind::Function),
            ("open", SymbolKind::Function),
            ("close", SymbolKind::Function),
            ("Base", SymbolKind::Class),
            ("Base.flush", SymbolKind::Method),
            ("Store", SymbolKind::Class),
            ("Store.cache", SymbolKind::Variable),
            ("Store.constructor", SymbolKind::Method),
            ("Store.flush", SymbolKind::Method),
            ("Internal.helper", SymbolKind::Function),
        ]
    );
    // The implementation of `open` spans its body.
    assert_eq!(found[5].2..=found[5].3, 16..=18);
}

#[test]
fn typescript_docs_above_exports_decorators_and_tools() {
    let dir = tempfile::tempdir().unwrap();
    support::fixture_repo(dir.path(), &[("src/store.ts", TS)]);
    let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
    let file = index.file("src/store.ts").unwrap();
    let by_name = |name: &str| {
        file.symbols
            .iter()
            .find(|s| s.qualified_name() == name)
            .unwrap_or_else(|| panic!("{name} not indexed"))
    };
    assert_eq!(
        by_name("StoreOptions").doc.as_deref(),
        Some("Options of a store.")
    );
    assert_eq!(by_name("open").doc.as_deref(), Some("Opens a store."));
    assert_eq!(by_name("Base").decorators, ["sealed"]);
    let flush = by_name("Store.flush");
    assert_eq!(flush.decorators, ["logged()"]);
    assert_eq!(flush.doc.as_deref(), Some("Drops everything."));
    let out = call_tool(&index, "search_method_in_class", &json!(["flush", "Store"])).unwrap();
    assert!(out.text.contains("this.cache.clear()"), "{}", out.text);
    let out = call_tool(&index, "search_class", &json!(["StoreOptions"])).unwrap();
    assert!(out.text.contains("src/store.ts"), "{}", out.text);
}

#[test]
fn tsx_components_parse_with_the_tsx_grammar() {
    let found = symbols_of("src/Button.tsx", TSX);
    assert_eq!(
        names(&found),
        [
            ("Props", SymbolKind::Class),
            ("Button", SymbolKind::Function),
            ("Badge", SymbolKind::Function),
            ("Panel", SymbolKind::Class),
            ("Panel.render", SymbolKind::Method),
        ]
    );
}
