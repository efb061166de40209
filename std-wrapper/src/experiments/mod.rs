//! Experiments on top of the algorithms and the state evolution: phase curves along one
//! layer's alpha, with their thresholds, tables and plots.

pub mod phase;
pub mod phase_report;
pub mod plot;
