//! Which language a file is in, from its name; the languages the symbol index parses.

use serde::{Deserialize, Serialize};

/// A language whose files the symbol index parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Python,
    Rust,
    Go,
    Java,
    /// JavaScript, including JSX.
    JavaScript,
    /// TypeScript (`.ts`, `.mts`, `.cts`, `.d.ts`).
    TypeScript,
    /// TypeScript with JSX (`.tsx`): a grammar of its own.
    Tsx,
}

impl Lang {
    /// The language of `path`, by extension; `None` for files that are indexed as text only.
    pub fn of(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "py" | "pyi" => Some(Lang::Python),
            "rs" => Some(Lang::Rust),
            "go" => Some(Lang::Go),
            "java" => Some(Lang::Java),
            "js" | "jsx" | "mjs" | "cjs" => Some(Lang::JavaScript),
            "ts" | "mts" | "cts" => Some(Lang::TypeScript),
            "tsx" => Some(Lang::Tsx),
            _ => None,
        }
    }
}

/// True for files that hold code (any common language), as opposed to docs, data and config.
pub fn is_code_file(path: &str) -> bool {
    const CODE: &[&str] = &[
        "py", "pyi", "pyx", "rs", "js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts", "go",
        "java", "kt", "c", "h", "cc", "cpp", "hpp", "cs", "rb", "php", "swift", "scala", "m", "sh",
        "lua", "r", "jl",
    ];
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| CODE.contains(&ext))
}
