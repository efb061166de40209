//! # mlamp-core
//!
//! The `no_std`, allocation-free core of mlamp: tail-accurate Gaussian special functions,
//! Gauss–Hermite quadrature, priors and channels (each the scalar denoiser of the ML-AMP
//! paper's eqs. 6, 7 and 9), weight operators, and the ML-AMP iteration over caller-provided
//! buffers. Generic over [`Real`] (`f32` and `f64`), with all transcendental functions from
//! `libm`.
//!
//! Papers: ML-AMP = `000_…` (Manoel, Krzakala, Mézard, Zdeborová), ML-Mat-VAMP = `002_…`.
//! Layers are listed from the signal to the observation; every doc comment that quotes a
//! paper's equation says how its index maps to ours.
#![no_std]
#![deny(missing_docs)]

pub mod channel;
pub mod error;
pub mod estimator;
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
