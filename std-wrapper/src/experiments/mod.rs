//! Experiments on top of the algorithms and the state evolution: phase curves along one
//! layer's alpha, with their thresholds, tables and plots; the committee experiment (learning
//! the input layer of a two-layer network: the ADAM baseline and the test error); imputation
//! of a masked data matrix (its baselines and ML-Mat-VAMP's estimate of the matrix).

pub mod imputation;
pub mod phase;
pub mod phase_report;
pub mod phase_shard;
pub mod plot;
