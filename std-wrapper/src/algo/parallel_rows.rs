//! The row-wise estimators of ML-Mat-VAMP on all cores: the core's chunks
//! ([`mlamp_core::ml_vamp::rows`]) mapped by rayon and their sums added in chunk order, so a
//! run's bits are those of the core's serial loop on any thread count.

use mlamp_core::mat::MatReal;
use mlamp_core::ml_vamp::rows::{CHUNK, ChunkFn, ChunkSums, RowRunner};
use rayon::prelude::*;

/// Runs the chunks on rayon's current thread pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParallelRows;

impl RowRunner for ParallelRows {
    fn run<T: MatReal, const D: usize>(
        &self,
        estimates: &mut [T],
        chunk: &ChunkFn<'_, T, D>,
    ) -> ChunkSums<T, D> {
        let sums: Vec<ChunkSums<T, D>> = estimates
            .par_chunks_mut(CHUNK * D)
            .enumerate()
            .map(|(c, out)| chunk(c, out))
            .collect();
        sums.into_iter().fold(ChunkSums::zero(), ChunkSums::then)
    }
}
