//! Accuracy metrics, pooled over SKUs x days as the issue defines them. Ratios whose
//! denominator is zero are `NaN` (reported, never hidden as 0).

/// Weighted absolute percentage error: `sum |f - y| / sum y` over all points.
#[must_use]
pub fn wape(actual: &[f64], forecast: &[f64]) -> f64 {
    let error: f64 = actual.iter().zip(forecast).map(|(y, f)| (f - y).abs()).sum();
    error / actual.iter().sum::<f64>()
}

/// Bias: `sum (f - y) / sum y` (positive = over-forecast).
#[must_use]
pub fn bias(actual: &[f64], forecast: &[f64]) -> f64 {
    let error: f64 = actual.iter().zip(forecast).map(|(y, f)| f - y).sum();
    error / actual.iter().sum::<f64>()
}

/// WAPE of each series' total over the horizon: `sum_s |sum f_s - sum y_s| / sum y`.
#[must_use]
pub fn total_wape(actual: &[Vec<f64>], forecast: &[Vec<f64>]) -> f64 {
    let error: f64 =
        actual.iter().zip(forecast).map(|(y, f)| (f.iter().sum::<f64>() - y.iter().sum::<f64>()).abs()).sum();
    error / actual.iter().flatten().sum::<f64>()
}

/// Mean absolute scaled error: the forecast's MAE over the in-sample MAE of the seasonal naive
/// forecast with lag `lag`; `None` when that scale is 0 or undefined (a constant history).
#[must_use]
pub fn mase(actual: &[f64], forecast: &[f64], insample: &[f64], lag: usize) -> Option<f64> {
    if insample.len() <= lag || actual.is_empty() {
        return None;
    }
    let scale =
        insample.windows(lag + 1).map(|w| (w[lag] - w[0]).abs()).sum::<f64>() / (insample.len() - lag) as f64;
    if scale <= 0.0 {
        return None;
    }
    let mae = actual.iter().zip(forecast).map(|(y, f)| (f - y).abs()).sum::<f64>() / actual.len() as f64;
    Some(mae / scale)
}

/// Share of points with `lower <= y <= upper`.
#[must_use]
pub fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    let inside = actual.iter().zip(lower).zip(upper).filter(|((y, lo), hi)| *lo <= *y && *y <= *hi).count();
    inside as f64 / actual.len() as f64
}

/// Sums of consecutive `size`-day buckets from the first day (a trailing partial bucket too).
#[must_use]
pub fn buckets(daily: &[f64], size: usize) -> Vec<f64> {
    daily.chunks(size).map(|c| c.iter().sum()).collect()
}

/// The median (mean of the middle two for an even count); `NaN` when empty.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

/// The empirical quantile at `level` in [0, 1] of sorted values, linearly interpolated
/// (type 7, as numpy's default); `NaN` when empty.
#[must_use]
pub fn quantile_sorted(sorted: &[f64], level: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = level.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (position - below as f64) * (sorted[above] - sorted[below])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wape_and_bias_by_hand() {
        // errors: +1, -2, 0 -> |e| = 3 over sum y = 10; sum e = -1.
        let y = [2.0, 5.0, 3.0];
        let f = [3.0, 3.0, 3.0];
        assert!((wape(&y, &f) - 0.3).abs() < 1e-12);
        assert!((bias(&y, &f) + 0.1).abs() < 1e-12);
    }

    #[test]
    fn total_wape_nets_errors_within_a_series() {
        // A: totals 10 vs 10 -> 0; B: totals 4 vs 2 -> 2; sum y = 12.
        let y = vec![vec![4.0, 6.0], vec![1.0, 1.0]];
        let f = vec![vec![6.0, 4.0], vec![2.0, 2.0]];
        assert!((total_wape(&y, &f) - 2.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn mase_scales_by_the_in_sample_seasonal_naive_error() {
        // In-sample lag 2: |3-1| + |4-2| + |1-3| = 6 over 3 -> scale 2. Forecast MAE = 1.
        let insample = [1.0, 2.0, 3.0, 4.0, 1.0];
        let mase = mase(&[2.0, 2.0], &[1.0, 3.0], &insample, 2).unwrap();
        assert!((mase - 0.5).abs() < 1e-12);
        assert_eq!(super::mase(&[1.0], &[1.0], &[5.0, 5.0, 5.0], 1), None);
    }

    #[test]
    fn coverage_counts_the_bounds_as_inside() {
        let y = [0.0, 5.0, 10.0, 11.0];
        assert!((coverage(&y, &[0.0; 4], &[10.0; 4]) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn buckets_median_and_quantiles_by_hand() {
        assert_eq!(buckets(&[1.0, 2.0, 3.0, 4.0, 5.0], 2), vec![3.0, 7.0, 5.0]);
        assert!((median(&[3.0, 1.0, 2.0, 10.0]) - 2.5).abs() < 1e-12);
        assert!((quantile_sorted(&[0.0, 10.0, 20.0], 0.25) - 5.0).abs() < 1e-12);
        assert!((quantile_sorted(&[0.0, 10.0, 20.0], 1.0) - 20.0).abs() < 1e-12);
    }
}
