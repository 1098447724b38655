//! The PRNG behind `math.random` in scripts: Redis's `redisLrand48` (the 48-bit linear
//! congruential generator of POSIX `lrand48`). As in Redis 7 its state belongs to the process:
//! it starts from lrand48's default state, is not reseeded per script nor by SCRIPT FLUSH, and
//! `math.randomseed` reseeds it for the scripts that follow.

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

/// The state before any `redisSrand48` call.
pub const DEFAULT_STATE: u64 = 0x1234_ABCD_330E;

/// `REDIS_LRAND48_MAX`.
pub const LRAND48_MAX: i64 = i32::MAX as i64;

/// The generator state after `redisSrand48(seed)`.
pub fn seed(seed: i32) -> u64 {
    ((seed as u32 as u64) << 16) | 0x330E
}

/// Advances `state` and returns the next value in `0..2^31`.
pub fn next(state: &mut u64) -> i64 {
    *state = (A.wrapping_mul(*state).wrapping_add(C)) & MASK;
    (*state >> 17) as i64
}

/// `math.random()`'s base value in [0, 1).
pub fn unit(state: &mut u64) -> f64 {
    (next(state) % LRAND48_MAX) as f64 / LRAND48_MAX as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_draws_match_redis() {
        // A fresh Redis 7.0.15: `return tostring(math.random())` twice.
        let mut s = DEFAULT_STATE;
        assert_eq!(crate::scripting::convert::number_text(unit(&mut s)), "0.39646477363839");
        assert_eq!(crate::scripting::convert::number_text(unit(&mut s)), "0.84048536971234");
        let mut s = seed(0);
        assert_eq!(crate::scripting::convert::number_text(unit(&mut s)), "0.17082803611217");
    }
}
