//! Small derivative-free minimisers for fitting smoothing parameters by in-sample SSE: a
//! golden-section search for one parameter and Nelder–Mead for several.

/// Minimises `f` over `[lo, hi]` by golden-section search to within `tol`; returns the argmin.
pub fn golden_section(f: impl Fn(f64) -> f64, lo: f64, hi: f64, tol: f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (lo, hi);
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while b - a > tol {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = f(d);
        }
    }
    if fc < fd { c } else { d }
}

/// Minimises `f` from `x0` by Nelder–Mead (reflection 1, expansion 2, contraction ½, shrink ½)
/// with initial simplex steps `step`, stopping after `max_evals` evaluations or when the simplex's
/// values agree to `1e-8` relative. Returns the best point.
pub fn nelder_mead(f: impl Fn(&[f64]) -> f64, x0: &[f64], step: f64, max_evals: usize) -> Vec<f64> {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += step;
        simplex.push(x);
    }
    let mut values: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
    let mut evals = n + 1;
    while evals < max_evals {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        if (values[n] - values[0]).abs() <= 1e-8 * (values[0].abs() + 1e-12) {
            break;
        }
        let centroid: Vec<f64> =
            (0..n).map(|j| simplex[..n].iter().map(|x| x[j]).sum::<f64>() / n as f64).collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n).map(|j| centroid[j] + t * (simplex[n][j] - centroid[j])).collect()
        };
        let reflected = along(-1.0);
        let fr = f(&reflected);
        evals += 1;
        if fr < values[0] {
            let expanded = along(-2.0);
            let fe = f(&expanded);
            evals += 1;
            if fe < fr {
                simplex[n] = expanded;
                values[n] = fe;
            } else {
                simplex[n] = reflected;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            simplex[n] = reflected;
            values[n] = fr;
        } else {
            let contracted = if fr < values[n] { along(-0.5) } else { along(0.5) };
            let fc = f(&contracted);
            evals += 1;
            if fc < values[n].min(fr) {
                simplex[n] = contracted;
                values[n] = fc;
            } else {
                for i in 1..=n {
                    simplex[i] =
                        (0..n).map(|j| simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j])).collect();
                    values[i] = f(&simplex[i]);
                }
                evals += n;
            }
        }
    }
    let best = (0..=n).min_by(|&a, &b| values[a].total_cmp(&values[b])).expect("n + 1 points");
    simplex[best].clone()
}

/// The logistic function, mapping the real line onto (0, 1) for bounded parameters.
#[must_use]
pub fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_section_finds_a_parabola_minimum() {
        let x = golden_section(|x| (x - 0.3).powi(2), 0.0, 1.0, 1e-6);
        assert!((x - 0.3).abs() < 1e-5);
    }

    #[test]
    fn nelder_mead_finds_a_bowl_minimum() {
        let x = nelder_mead(|x| (x[0] - 1.0).powi(2) + 3.0 * (x[1] + 2.0).powi(2), &[0.0, 0.0], 0.5, 500);
        assert!((x[0] - 1.0).abs() < 1e-3 && (x[1] + 2.0).abs() < 1e-3, "{x:?}");
    }
}
