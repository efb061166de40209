//! Support shared by the core's integration tests: slow, obvious reference computations.

/// Composite Simpson rule for `∫_lo^hi f` with `n` (even) intervals.
pub fn simpson(lo: f64, hi: f64, n: usize, mut f: impl FnMut(f64) -> f64) -> f64 {
    assert!(n.is_multiple_of(2));
    let h = (hi - lo) / n as f64;
    let mut s = f(lo) + f(hi);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w * f(lo + i as f64 * h);
    }
    s * h / 3.0
}
