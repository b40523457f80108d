//! The mock's integration suite: one binary, one module per area.

mod audio;
mod chat;
mod cli;
mod common;
mod conformance;
mod data;
mod disagree;
mod faults;
mod malformed;
mod operations;
mod state;
