//! Everything ponder knows about the repository being fixed: its files, a symbol index over them,
//! the search tools the model calls, compressed views for prompts, a BM25 shortlist for an issue,
//! and throw-away worktrees.
//!
//! Build a [`RepoIndex`] once per session from a [`Workspace`] — with [`open_index`], which
//! reuses the snapshot persisted by the last run ([`IndexStore`]) for every unchanged file; after
//! a patch, re-index the changed files with [`RepoIndex::reindex`].

mod baseline;
mod bm25;
mod bound;
mod cached;
mod changed_units;
mod fresh;
mod hunk_offset;
mod index;
mod inherited;
mod issue_text;
mod lang;
mod members;
mod mentions;
mod parse;
mod passages;
mod profile;
mod progress;
mod shortlist;
mod skeleton;
mod snapshot;
mod store;
mod symbol;
mod symbol_rank;
mod symbols;
mod text;
pub mod tokens;
mod tools;
mod tree;
mod vendored;
mod workspace;
mod worktree;

pub use baseline::PlainBm25;
pub use bm25::Bm25;
pub use bound::fit;
pub use cached::{CacheState, OpenReport, Persisted, open_index, open_persisted, open_workspace};
pub use changed_units::changed_units;
pub use index::{IndexedFile, Reindexed, RepoIndex};
pub use lang::{Lang, is_code_file};
pub use mentions::{Frame, Mentions, extract as extract_mentions};
pub use profile::{FileProfile, profile_files};
pub use progress::IndexProgress;
pub use shortlist::{is_docs_path, is_test_path, shortlist};
pub use skeleton::{class_outline, file_skeleton};
pub use store::{IndexStore, open_lock_file};
pub use symbol::{Symbol, SymbolKind};
pub use symbol_rank::{RankedSymbol, rank_symbols, unit_at};
pub use symbols::Symbols;
pub use text::Text;
pub use tools::{
    ArgType, RESULT_SHOW_LIMIT, TEXT_TOKENS, TOOLS, ToolOutput, ToolSpec, call_tool, tool_names,
};
pub use tree::{compressed_tree, fitted_tree};
pub use vendored::Vendored;
pub use workspace::{MAX_FILE_BYTES, SkipReason, Skipped, Workspace};
pub use worktree::{Worktree, remove_stale};

/// True when `text` parses as Python with no syntax error (tree-sitter's reading).
pub(crate) fn python_parses(text: &str) -> bool {
    !parse::parse(lang::Lang::Python, text).has_errors
}
