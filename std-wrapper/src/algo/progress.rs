//! A caller's view of a long computation while it runs: each finished step reported to a
//! callback, so the CLI can draw a bar that counts the work that remains.

use core::fmt;

/// One finished step: which, of how many at most, and the iteration's change (the quantity
/// the stopping rule compares with the tolerance; NaN where a step has none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// The steps done so far (1-based).
    pub done: usize,
    /// The most steps the computation may take (it may stop earlier, when converged).
    pub most: usize,
    /// The step's change.
    pub change: f64,
}

/// An optional callback told of every [`Tick`]; the default tells no one. `Copy`, so the
/// options that carry it stay plain values; it compares equal to any other (a callback is
/// not part of what a run computes).
#[derive(Clone, Copy, Default)]
pub struct Progress<'a>(Option<&'a (dyn Fn(Tick) + Sync)>);

impl<'a> Progress<'a> {
    /// Reports every step to `f`.
    pub fn to(f: &'a (dyn Fn(Tick) + Sync)) -> Self {
        Self(Some(f))
    }

    /// Reports step `done` of at most `most`, with its change.
    pub fn tick(&self, done: usize, most: usize, change: f64) {
        if let Some(f) = self.0 {
            f(Tick { done, most, change });
        }
    }
}

impl fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(callback)"
        } else {
            "Progress(none)"
        })
    }
}

impl PartialEq for Progress<'_> {
    /// Always equal: the callback does not change the result.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_tick_reaches_the_callback_in_order() {
        let seen = Mutex::new(Vec::new());
        let record = |t: Tick| seen.lock().unwrap().push((t.done, t.most));
        let p = Progress::to(&record);
        for k in 1..=3 {
            p.tick(k, 5, 0.1);
        }
        Progress::default().tick(4, 5, 0.1);
        assert_eq!(*seen.lock().unwrap(), vec![(1, 5), (2, 5), (3, 5)]);
    }
}
