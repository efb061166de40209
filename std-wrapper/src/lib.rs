//! # mlamp-std
//!
//! The host side of mlamp: model files, seeded instances and the drivers that run the core's
//! algorithms on them, with heap allocation and everything a host user needs.
#![deny(missing_docs)]

pub mod denoisers;
pub mod dense;
pub mod driver;
pub mod error;
pub mod instance;
pub mod model;
pub mod plot;
pub mod se;
pub mod svd;
pub mod vamp;

pub use driver::{AmpOptions, AmpResult, run_ml_amp};
pub use error::Error;
pub use instance::Instance;
pub use model::Model;
pub use vamp::{VampOptions, VampResult, run_ml_vamp};
