//! Seeded random streams: one Xoshiro256++ generator per object, advanced by jumps.

use rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator of stream `j` for `seed`.
pub fn stream(seed: u64, j: usize) -> Xoshiro256PlusPlus {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..j {
        rng.jump();
    }
    rng
}

/// A standard normal draw.
pub fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}
