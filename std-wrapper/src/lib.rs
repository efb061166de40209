//! # mlamp-std
//!
//! The host side of mlamp: model files, seeded instances and the drivers that run the core's
//! algorithms on them, with heap allocation and everything a host user needs.
//!
//! - [`arrays`]: array files (`.npy`, `.npz`, CSV) of given data and of results;
//! - [`model`]: model files (TOML), the registry of prior and channel kinds, built models;
//! - [`instance`]: seeded instances (weight ensembles) on the [`streams`];
//! - [`streams`]: the seeded random streams every sampled object draws from;
//! - [`linalg`]: dense weight operators, singular value decompositions and the subsampled
//!   randomised DCT of `dct` weights;
//! - [`algo`]: the ML-AMP and ML-Mat-VAMP drivers;
//! - [`memory`]: what a run allocates, and the guard that refuses one that would not fit;
//! - [`se`]: the state evolutions (ML-AMP with its free energy, ML-Mat-VAMP's Theorem 1);
//! - [`committee`]: the two-layer network of the ML-Mat-VAMP paper's section 2.3: its ADAM
//!   baseline and its test error (eq. 17);
//! - [`mixed_regression`]: mixed linear regression (the ML-Mat-VAMP paper's eq. 6): its EM
//!   baseline and the error up to the label swap;
//! - [`experiments`]: phase curves, thresholds, plots.
//!
//! A new prior or channel kind is one core file (its mathematics) plus one entry in
//! [`model`]'s registry.
//!
//! ## Quick start
//! A two-layer sparse regression (the ML-AMP paper's eq. 18) from a model file's text, one
//! seeded instance, ML-AMP on it:
//! ```
//! use mlamp_std::{AmpOptions, Instance, Model, run_ml_amp};
//!
//! let model = Model::from_toml(
//!     r#"
//!     [prior]
//!     type = "gauss-bernoulli"
//!     rho = 0.3
//!     [[layers]]
//!     alpha = 1.0
//!     channel = { type = "linear" }
//!     [[layers]]
//!     alpha = 0.8
//!     channel = { type = "linear", noise_var = 1e-8 }
//!     "#,
//! )?;
//! let instance = Instance::sample(&model, 300, 1)?;
//! let result = run_ml_amp(&model, &instance, &AmpOptions::default())?;
//! assert!(result.converged && result.mse_signal() < 1e-6);
//! # Ok::<(), mlamp_std::Error>(())
//! ```
#![deny(missing_docs)]

pub mod algo;
pub mod arrays;
pub mod bytes;
pub mod clustering;
pub mod committee;
pub mod error;
pub mod experiments;
pub mod instance;
pub mod linalg;
pub mod memory;
pub mod mixed_regression;
pub mod model;
pub mod se;
pub mod streams;
pub mod threads;

pub use algo::{AmpOptions, AmpResult, VampOptions, VampResult, run_ml_amp, run_ml_vamp};
pub use error::Error;
pub use instance::Instance;
pub use model::Model;
