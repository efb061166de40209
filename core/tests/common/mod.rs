//! Support shared by the core's integration tests: slow, obvious reference computations.

/// Nodes and weights of the composite Simpson rule on `[lo, hi]` with `n` (even) intervals,
/// as a list (to accumulate several integrands, or log-domain sums, over the same nodes).
pub fn simpson_grid(lo: f64, hi: f64, n: usize) -> Vec<(f64, f64)> {
    assert!(n.is_multiple_of(2));
    let h = (hi - lo) / n as f64;
    (0..=n)
        .map(|i| {
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            (lo + i as f64 * h, w * h / 3.0)
        })
        .collect()
}

/// Composite Simpson rule for `∫_lo^hi f` with `n` (even) intervals.
#[allow(dead_code)] // not every test crate that shares this module integrates with it
pub fn simpson(lo: f64, hi: f64, n: usize, mut f: impl FnMut(f64) -> f64) -> f64 {
    simpson_grid(lo, hi, n)
        .into_iter()
        .map(|(x, w)| w * f(x))
        .sum()
}
