//! The algorithms' drivers on the host: ML-AMP ([`amp`]) and ML-Mat-VAMP ([`vamp`]) on a
//! model's instance, with what they share (the options' checks, the `monitor` of a run)
//! and the kinds' row estimators for ML-Mat-VAMP ([`denoisers`]).

pub mod amp;
pub mod denoisers;
pub mod linear_path;
pub mod matrix_free;
pub(crate) mod monitor;
pub mod options;
pub mod parallel_rows;
pub mod progress;
pub mod run;
pub mod solve;
pub mod vamp;

pub use amp::{AmpOptions, AmpResult, run_ml_amp};
pub use monitor::{mse, mse_layers};
pub use progress::{Progress, Tick};
pub use run::{Algorithm, RunOptions, RunReport, run_model_file};
pub use solve::{SolveOptions, SolveReport, solve_model_file};
pub use vamp::{VampOptions, VampResult, run_ml_vamp};
