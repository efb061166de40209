//! Linear algebra of the host: the dense weight operators ML-AMP multiplies by, the singular
//! value decompositions ML-Mat-VAMP rotates with, and the structured weights (a subsampled
//! randomised DCT) it applies as fast transforms.

pub mod dct;
pub mod dense;
pub mod operator;
pub mod singular_values;
pub mod svd;
