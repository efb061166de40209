//! Dense linear algebra of the host: the weight operators ML-AMP multiplies by and the
//! singular value decompositions ML-Mat-VAMP rotates with.

pub mod dense;
pub mod singular_values;
pub mod svd;
