//! What a model's answers mean: parsers that turn free-form answer text into paths, locations,
//! tool calls, SEARCH/REPLACE edits and scripts — leniently, since real models write the same thing
//! many ways — and, beside them, the GBNF grammars that constrain the same answers while they are
//! decoded.
//!
//! Plain data in, plain data out: this module sits below the pipeline (which checks answers
//! against the repository) and the session exports (which check recorded answers against a gold
//! patch), and knows neither.

mod edits;
mod fence;
pub mod grammar;
pub mod issue_example;
mod json;
mod localize;
pub mod paths;

pub use edits::{DIVIDER, Edit, ParsedEdits, REPLACE, SEARCH, parse_edits, path_in_line};
pub use fence::code_block;
pub use json::json_array;
pub use localize::{
    LocalizeAnswer, Location, ProposedLocation, ToolRequest, parse_localize_answer,
};
