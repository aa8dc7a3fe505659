//! The standard normal quantile (inverse CDF), for the safety factor `z` of a service level.
//!
//! Acklam's rational approximation (relative error below 1.2e-9 over (0, 1)): no statistics
//! crate is in the workspace, and one function does not justify adding one.

/// `z` of the standard normal at the 90th percentile: half the p10–p90 width in sigmas.
pub const Z_P90: f64 = 1.281_551_565_544_600_4;

const A: [f64; 6] = [
    -3.969_683_028_665_376e1,
    2.209_460_984_245_205e2,
    -2.759_285_104_469_687e2,
    1.383_577_518_672_69e2,
    -3.066_479_806_614_716e1,
    2.506_628_277_459_239,
];
const B: [f64; 5] = [
    -5.447_609_879_822_406e1,
    1.615_858_368_580_409e2,
    -1.556_989_798_598_866e2,
    6.680_131_188_771_972e1,
    -1.328_068_155_288_572e1,
];
const C: [f64; 6] = [
    -7.784_894_002_430_293e-3,
    -3.223_964_580_411_365e-1,
    -2.400_758_277_161_838,
    -2.549_732_539_343_734,
    4.374_664_141_464_968,
    2.938_163_982_698_783,
];
const D: [f64; 4] =
    [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];

/// Below this (and above `1 - P_LOW`) the tail formula is used.
const P_LOW: f64 = 0.024_25;

/// The standard normal quantile at `p`: `-inf` at 0, `+inf` at 1, `NaN` outside [0, 1].
#[must_use]
pub fn inverse_normal_cdf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        let num = ((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5];
        let den = (((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0;
        num / den
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        let num = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q;
        let den = ((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0;
        num / den
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_the_published_table() {
        // Reference values from R's qnorm.
        for (p, z) in [
            (0.5, 0.0),
            (0.8, 0.841_621_233_572_914_3),
            (0.9, Z_P90),
            (0.95, 1.644_853_626_951_472_2),
            (0.99, 2.326_347_874_040_840_8),
            (0.9999, 3.719_016_485_455_709),
            (0.01, -2.326_347_874_040_840_8),
            (0.1, -Z_P90),
        ] {
            let got = inverse_normal_cdf(p);
            assert!((got - z).abs() < 1e-8 * z.abs().max(1.0), "p {p}: {got} vs {z}");
        }
    }

    #[test]
    fn the_ends_are_infinite_and_outside_is_nan() {
        assert_eq!(inverse_normal_cdf(0.0), f64::NEG_INFINITY);
        assert_eq!(inverse_normal_cdf(1.0), f64::INFINITY);
        assert!(inverse_normal_cdf(1.5).is_nan());
        assert!(inverse_normal_cdf(f64::NAN).is_nan());
    }
}
