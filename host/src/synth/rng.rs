//! A small counter-based random generator.
//!
//! Every image gets its own stream derived from `(seed, generator, index)`, so
//! the bytes of image `i` never depend on how rayon schedules the work. The
//! state update and the float conversions use only integer arithmetic and
//! IEEE-exact operations; transcendental functions come from `libm`, never the
//! platform's math library, so a seed gives the same bytes on every machine.

/// SplitMix64-style generator: one 64-bit counter, a strong output mix.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Finalising mix: spreads every input bit over the whole output word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for item `index` of `stream` (one stream per generator kind).
    pub fn for_item(seed: u64, stream: u64, index: u64) -> Self {
        let a = mix(seed ^ GOLDEN);
        let b = mix(a ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        Rng {
            state: mix(b ^ index.wrapping_mul(0xA076_1D64_78BD_642F)),
        }
    }

    /// An independent child generator (for a sub-part such as one person).
    pub fn fork(&mut self) -> Self {
        Rng {
            state: mix(self.next_u64()),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `[0, 1)` with 24 bits of precision.
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// Uniform integer in `[0, n)`; `n == 0` yields 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.f32() < p
    }

    /// Standard normal sample (Box-Muller through `libm`).
    pub fn normal(&mut self) -> f32 {
        let u = 1.0 - self.f32(); // (0, 1]
        let v = self.f32();
        libm::sqrtf(-2.0 * libm::logf(u)) * libm::cosf(core::f32::consts::TAU * v)
    }

    /// Pick one element (the slice must not be empty to be meaningful).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index drawn with the given (non-negative) weights.
    pub fn weighted(&mut self, weights: &[f32]) -> usize {
        let total: f32 = weights.iter().sum();
        let mut x = self.f32() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

/// Stateless hash of integer coordinates to `[0, 1)`: the basis of value noise.
pub fn hash2(seed: u32, x: i32, y: i32) -> f32 {
    (hash2u(seed, x, y) >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// Stateless 32-bit hash of integer coordinates.
#[inline]
pub fn hash2u(seed: u32, x: i32, y: i32) -> u32 {
    let mut h = seed
        .wrapping_mul(0x27d4_eb2d)
        .wrapping_add((x as u32).wrapping_mul(0x85eb_ca6b))
        ^ (y as u32).wrapping_mul(0xc2b2_ae35);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_item(1, 2, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::for_item(1, 2, 3).next_u64(),
            Rng::for_item(1, 2, 4).next_u64()
        );
        assert_ne!(
            Rng::for_item(1, 2, 3).next_u64(),
            Rng::for_item(2, 2, 3).next_u64()
        );
    }

    #[test]
    fn uniform_is_in_range_with_plausible_mean() {
        let mut r = Rng::for_item(7, 0, 0);
        let n = 20_000;
        let mut sum = 0.0f64;
        for _ in 0..n {
            let x = r.f32();
            assert!((0.0..1.0).contains(&x));
            sum += x as f64;
        }
        assert!((sum / n as f64 - 0.5).abs() < 0.01);
        assert!((0..1000).all(|_| r.below(5) < 5));
    }
}
