//! What a run will allocate, computed from the model and `n` before anything is allocated,
//! and the guard that refuses a run which would not fit.
//!
//! The estimate counts what dominates: the instance (every variable and every weight matrix,
//! 8 bytes an entry), the singular value decompositions of ML-Mat-VAMP (the factors, the
//! solver's workspace, the Haar frames of `spectrum` weights; `dct` weights are `O(n)`: no
//! matrix, no decomposition) and the algorithms' state. It
//! is computed in `f64`, so absurd sizes give a huge number, never an overflow. The limit is
//! `--max-memory` if given, else the memory the system reports available
//! (`MemAvailable` of `/proc/meminfo`); without either there is no limit.

use crate::algo::linear_path::LinearPath;
use crate::error::Error;
use crate::model::{MAX_ROWS, Model, WeightsSpec};

/// Which algorithm's allocations to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// Sampling an instance only.
    Instance,
    /// ML-AMP: the instance and a few vectors per variable (the weights are borrowed).
    Amp,
    /// ML-Mat-VAMP on the given linear path: the instance, every layer's SVD
    /// ([`LinearPath::Svd`]) or the singular values' transient workspace and the
    /// conjugate-gradient vectors ([`LinearPath::MatrixFree`]; `Auto` counts as the SVD), `d × d`
    /// blocks per row.
    Vamp(LinearPath),
}

/// The sizes `n_0 = n, …, n_L` in `f64` (no overflow), as [`Model::sizes`] rounds them.
fn sizes_f64(model: &Model, n: f64) -> Vec<f64> {
    let mut sizes = vec![n];
    for l in &model.layers {
        let next = (l.alpha * sizes.last().copied().unwrap_or(n)).round();
        sizes.push(next);
    }
    sizes
}

/// The bytes a run of `usage` on an instance of `model` with `n` rows allocates (an estimate:
/// within a factor 1.5 of the peak for the shipped models).
pub fn estimate(model: &Model, n: usize, usage: Usage) -> f64 {
    let sizes = sizes_f64(model, n as f64);
    let d = model.d as f64;
    let mut entries = 0.0;
    // The matrix-free path's transient workspace: the largest Gram matrix of a `W` whose
    // singular values are computed, and as much again for the eigensolver.
    let mut transient: f64 = 0.0;
    // The instance: every variable (rows of d) and every weight matrix.
    for &s in &sizes {
        entries += s * d;
    }
    for (k, l) in model.layers.iter().enumerate() {
        let (n_in, n_out) = (sizes[k], sizes[k + 1]);
        let r = n_in.min(n_out);
        if l.weights == (WeightsSpec::Dct {}) {
            // A transform, never a matrix: its signs and its selection (with the shuffled
            // indices it is drawn from), and a few transform buffers per column; the run
            // keeps a copy of the operator. Nothing else is large, so the state is counted
            // closer than the `32 d²` per row below (a bound that dense weights' n_in·n_out
            // dwarf): 16 d per row of both sides, what ML-Mat-VAMP's messages, estimates,
            // snapshots and the transforms' buffers peak at (sparse_regression_dct.toml,
            // d = 1, n = 10⁶: 391 MB, estimate 602 MB; multitask.toml with dct weights,
            // d = 4, n = 2·10⁵: 104 MB, estimate 154 MB).
            let big = n_in.max(n_out);
            entries += 2.0 * big + r;
            match usage {
                Usage::Instance => entries += 2.0 * d * big,
                Usage::Amp => entries += 8.0 * (n_in + n_out),
                Usage::Vamp(_) => entries += 2.0 * big + r + 16.0 * d * (n_in + n_out),
            }
            continue;
        }
        entries += n_in * n_out;
        let spectrum = !matches!(l.weights, WeightsSpec::Gaussian {});
        if spectrum {
            // The Haar frames (drawn, reflected, kept) of both sides.
            entries += 3.0 * (n_in + n_out) * r;
        }
        match usage {
            Usage::Instance => {}
            // A, B, ĥ, σ and V, ω, g, ∂g, plus the kept and best snapshots of ĥ and σ.
            Usage::Amp => entries += 8.0 * (n_in + n_out),
            Usage::Vamp(LinearPath::MatrixFree) => {
                // The singular values (the r × r Gram matrix and the eigensolver's workspace,
                // one layer at a time, none for spectrum weights), the solver's X and vectors,
                // and d × d blocks per row.
                if !spectrum {
                    transient = transient.max(2.0 * r * r);
                }
                entries += d * n_in + 5.0 * n_in + 2.0 * n_out + r;
                entries += 32.0 * d * d * (n_in + n_out);
            }
            Usage::Vamp(_) => {
                // The factors (a copy of the generated ones for spectrum weights), faer's
                // workspace (a copy of W and more), and d × d blocks per row.
                entries += (n_in + n_out) * r * if spectrum { 1.0 } else { 2.0 };
                if !spectrum {
                    entries += n_in * n_out;
                }
                entries += 32.0 * d * d * (n_in + n_out);
            }
        }
    }
    8.0 * (entries + transient)
}

/// The share of the available memory a run may take by default: the estimate is not exact,
/// and other processes allocate too (a run that took all of it was killed by the system's
/// out-of-memory killer, which may pick another process instead).
pub const AVAILABLE_SHARE: f64 = 0.7;

/// [`AVAILABLE_SHARE`] of the memory the system reports available (`MemAvailable`, or a
/// lower cgroup limit), in bytes, if it reports any.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut bytes = kb.checked_mul(1024)?;
    for (limit, usage) in [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ] {
        let read = |p| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
        if let (Some(l), Some(u)) = (read(limit), read(usage)) {
            bytes = bytes.min(l.saturating_sub(u));
        }
    }
    Some((bytes as f64 * AVAILABLE_SHARE) as u64)
}

/// The error of an allocation that failed although the estimate fitted (a size the
/// allocator cannot represent).
pub fn allocation_failed(what: &str) -> Error {
    Error::invalid(
        "n",
        format!("{what} does not fit in this machine's address space: use a smaller --n"),
    )
}

/// Refuses a run of `usage` with `n` rows that needs more than `limit` bytes (`None`: what
/// [`available`] reports; no limit if it reports nothing), naming the largest `n` that fits;
/// returns the estimate otherwise. `what` names the run in the error.
pub fn check(
    model: &Model,
    n: usize,
    usage: Usage,
    limit: Option<u64>,
    what: &str,
) -> Result<u64, Error> {
    let need = estimate(model, n, usage);
    let sizes = sizes_f64(model, n as f64);
    if let Some(k) = sizes.iter().position(|&s| s > MAX_ROWS) {
        let field = match k {
            0 => "n".to_string(),
            k => format!("layers[{}].alpha", k - 1),
        };
        return Err(Error::invalid(
            field,
            format!(
                "gives {:.3e} rows at n = {n}, more than any machine holds (2^40)",
                sizes[k]
            ),
        ));
    }
    let (limit, limit_from) = match limit {
        Some(l) => (l, "allowed by --max-memory"),
        None => match available() {
            Some(l) => (l, "that may be used (70% of what is available)"),
            None => return Ok(need.min(u64::MAX as f64) as u64),
        },
    };
    if need <= limit as f64 {
        return Ok(need as u64);
    }
    // The largest n that fits: the estimate grows with n, bisect.
    let (mut lo, mut hi) = (0usize, n);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if estimate(model, mid, usage) <= limit as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let hint = if lo >= 1 {
        format!(": --n {lo} fits")
    } else {
        ": no n fits".to_string()
    };
    Err(Error::Memory {
        what: format!("{what} at n = {n}"),
        needed: need.min(u64::MAX as f64) as u64,
        limit,
        limit_from,
        hint,
    })
}
