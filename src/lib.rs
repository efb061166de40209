//! # mlamp
//!
//! Inference in multi-layer generalized linear models by approximate message passing.
//! This crate is the facade: it re-exports the `no_std` core ([`core`], `mlamp-core`) and the
//! host side (`mlamp-std`), and provides the `mlamp` command-line tool.
#![deny(missing_docs)]

pub use mlamp_core as core;
pub use mlamp_std::*;
