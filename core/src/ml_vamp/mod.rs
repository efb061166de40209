//! ML-Mat-VAMP (paper `002_…`, Algorithm 1): multi-layer matrix VAMP over caller-provided
//! buffers.
//!
//! Work in progress: the rotations ([`Rotations`]) a linear layer needs.

mod rotations;

pub use rotations::{DenseRotations, Rotations};
