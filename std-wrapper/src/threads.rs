//! The number of threads: rayon's global pool, which runs the weight products of ML-AMP (split
//! by [`mlamp_core::operator::split`]), ML-Mat-VAMP's row estimators and the experiments' scans.
//! Every result has the same bits on any number of threads, so the count only changes speed.

use crate::error::Error;

/// Sets the global pool to `threads` threads (without a call, rayon's default: the
/// `RAYON_NUM_THREADS` environment variable, else one per core). Must come before anything
/// runs on the pool; `threads = 0` or a second call is an [`Error::Invalid`] for `--threads`.
pub fn use_threads(threads: usize) -> Result<(), Error> {
    if threads == 0 {
        return Err(Error::invalid("--threads", "must be at least 1"));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Error::invalid("--threads", format!("cannot start the threads: {e}")))
}

/// Threads of the pool the calling code runs on (the global pool outside any other).
pub fn current_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_is_a_typed_error() {
        let e = use_threads(0).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }));
        assert!(e.to_string().contains("--threads"), "{e}");
    }
}
