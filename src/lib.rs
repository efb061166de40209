//! # mlamp
//!
//! Inference in multi-layer generalized linear models by approximate message passing.
//! This crate is the facade: it re-exports the `no_std` core ([`core`], `mlamp-core`) and the
//! host side (`mlamp-std`), and provides the `mlamp` command-line tool, whose commands are
//! one library call each.
//!
//! ## Quick start
//! What `mlamp run examples/models/sparse_regression.toml --n 300` does:
//! ```
//! use mlamp::algo::{RunOptions, run_model_file};
//!
//! let opts = RunOptions { n: 300, ..RunOptions::default() };
//! let report = run_model_file("examples/models/sparse_regression.toml".as_ref(), &opts)?;
//! assert!(report.converged && report.mse_signal < 1e-6);
//! println!("{report}");
//! # Ok::<(), mlamp::Error>(())
//! ```
#![deny(missing_docs)]

pub use mlamp_core as core;
pub use mlamp_std::*;

pub mod progress;
