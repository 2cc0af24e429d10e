//! ponder: fix an issue in a local repository with a local model, thinking longer rather than
//! larger. See `DESIGN` in the README: everything is an [`event::Event`], state is their fold.

pub mod answer;
pub mod assets;
pub mod cli;
pub mod config;
pub mod demo;
pub mod event;
pub mod headless;
pub mod model;
pub mod pipeline;
pub mod repo;
pub mod review;
pub mod sandbox;
pub mod serve;
pub mod session;
pub mod tui;
