//! # mlamp-core
//!
//! The `no_std`, allocation-free core of mlamp: tail-accurate Gaussian special functions,
//! quadrature, prior and channel kinds (each defined by its potential: the scalar denoisers of
//! eqs. 6, 7 and 9 of Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear
//! estimation*, their state-evolution averages, their laws and their row estimators), weight
//! operators, the ML-AMP iteration, and the row estimators and iteration of ML-Mat-VAMP
//! (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
//! multi-layer models*) over caller-provided buffers. Generic over [`Real`] (`f32` and
//! `f64`), with all transcendental functions from `libm`.
//!
//! Layers are listed from the signal to the observation; every doc comment that quotes a
//! paper's equation says how its index maps to ours.
//!
//! ## Architecture
//! - [`prior`]: one file per prior kind ([`prior::Prior`]: potential, moments, law, MAP,
//!   ML-Mat-VAMP row form); [`channel`]: one file per channel kind
//!   ([`channel::ChannelKind`], and [`channel::Channel`] for ML-AMP's form).
//! - [`ml_amp`], [`ml_vamp`]: the algorithms, generic over the kinds; [`mat`]: d×d precisions
//!   and the row estimators ML-Mat-VAMP runs the kinds with; [`se`], [`moments`]: the state
//!   evolution's building blocks.
//!
//! ## Quick start
//! The scalar denoisers of a Gauss–Bernoulli prior and a noisy linear output:
//! ```
//! use mlamp_core::channel::{Channel, Linear};
//! use mlamp_core::prior::{GaussBernoulli, Prior};
//!
//! // x ~ 0.7 δ₀ + 0.3 N(0, 1) under the tilted measure P(x) e^{−A x²/2 + B x}, A = 4, B = 10:
//! let prior = GaussBernoulli::<f64>::new(0.3, 0.0, 1.0)?;
//! let post = prior.posterior(4.0, 10.0);
//! // The slab's tilted mean is B/(1 + A) = 2; its posterior weight is 1 − 2e-4 here.
//! assert!((post.mean - 2.0).abs() < 1e-3 && post.var > 0.0);
//!
//! // y = z + N(0, 0.01) with z ~ N(ω, V): g = (y − ω)/(V + Δ).
//! let out = Linear::<f64>::new(0.01)?.output(0.7, 0.5, 0.2);
//! assert!((out.g - 0.5 / 0.51).abs() < 1e-12);
//! # Ok::<(), mlamp_core::Error>(())
//! ```
#![no_std]
#![deny(missing_docs)]
#[cfg(test)]
extern crate std;

pub mod channel;
mod damping;
pub mod error;
pub mod estimator;
pub(crate) mod gaussian;
pub mod mat;
pub mod ml_amp;
pub mod ml_vamp;
pub mod moments;
pub mod operator;
pub mod prior;
pub mod quadrature;
pub mod real;
pub mod se;
pub mod special;

pub use error::Error;
pub use real::Real;
