//! How a pass of ML-Mat-VAMP runs its row-wise estimator over the `n` rows: in chunks of
//! [`CHUNK`] rows, each chunk's sums (the Jacobians for `⟨J⟩`, the squared change and norm of
//! the estimates) computed alone and the chunks' sums added in chunk order. Who runs the
//! chunks — this core's [`Serial`] loop, or a host's thread pool — therefore cannot change a
//! bit of the result: the same seed gives the same bits on any thread count.

use crate::damping::Change;
use crate::mat::MatReal;
use nalgebra::{SMatrix, SVector};

/// Rows a chunk holds (the last chunk may hold fewer).
pub const CHUNK: usize = 64;

/// One chunk's sums, or the ordered sum of several chunks'.
#[derive(Clone, Copy, Debug)]
pub struct ChunkSums<T: MatReal, const D: usize> {
    pub(crate) jacobian: SMatrix<T, D, D>,
    pub(crate) change: Change<T>,
}

impl<T: MatReal, const D: usize> ChunkSums<T, D> {
    /// Nothing summed.
    pub fn zero() -> Self {
        Self {
            jacobian: SMatrix::zeros(),
            change: Change::new(),
        }
    }

    /// `self + later`: the sums of `self`'s rows followed by `later`'s.
    #[must_use]
    pub fn then(self, later: Self) -> Self {
        Self {
            jacobian: self.jacobian + later.jacobian,
            change: self.change.merge(later.change),
        }
    }

    /// Adds row estimate `mean` (Jacobian `jacobian`) that replaces `old`; the change is
    /// counted only if `track_change`.
    pub(crate) fn add(
        &mut self,
        mean: SVector<T, D>,
        old: SVector<T, D>,
        jacobian: &SMatrix<T, D, D>,
        track_change: bool,
    ) {
        if track_change {
            self.change.add(mean, old);
        }
        self.jacobian += jacobian;
    }
}

/// The work of one chunk: `(chunk index c, its rows' estimates, D entries a row, rows
/// c·CHUNK …)` → the chunk's sums, after writing the new estimates in place.
pub type ChunkFn<'a, T, const D: usize> = dyn Fn(usize, &mut [T]) -> ChunkSums<T, D> + Sync + 'a;

/// Runs the chunks of a pass.
pub trait RowRunner: Sync {
    /// Calls `chunk(c, estimates[c·CHUNK·D ..][.. CHUNK·D])` for every chunk `c` of
    /// `estimates` (`n × D` entries, row-major), in any order or concurrently, and returns
    /// their sums added in chunk order ([`ChunkSums::then`]).
    fn run<T: MatReal, const D: usize>(
        &self,
        estimates: &mut [T],
        chunk: &ChunkFn<'_, T, D>,
    ) -> ChunkSums<T, D>;
}

/// The chunks one after the other, on the calling thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Serial;

impl RowRunner for Serial {
    fn run<T: MatReal, const D: usize>(
        &self,
        estimates: &mut [T],
        chunk: &ChunkFn<'_, T, D>,
    ) -> ChunkSums<T, D> {
        estimates
            .chunks_mut(CHUNK * D)
            .enumerate()
            .fold(ChunkSums::zero(), |acc, (c, out)| acc.then(chunk(c, out)))
    }
}
