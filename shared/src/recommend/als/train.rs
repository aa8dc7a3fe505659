//! Fitting: alternating CG half-steps over users then items.

use std::time::Instant;

use rayon::prelude::*;

use super::model::{AlsModel, dot};
use super::params::AlsParams;
use crate::recommend::data::{Csr, Interactions};
use crate::recommend::errors::{RecommendError, Result};
use crate::recommend::split::SplitMix64;

impl AlsParams {
    /// Fits user and item factors to `data`.
    ///
    /// # Errors
    /// Invalid parameters ([`AlsParams::check`]) or no interactions.
    pub fn fit(&self, data: &Interactions) -> Result<AlsModel> {
        self.fit_from(data, None)
    }

    /// [`AlsParams::fit`] starting from `start`'s factors instead of random ones when it has
    /// the same users, items and factors (e.g. a fit on most of the same data): a few sweeps
    /// then finish what a full fit from scratch would take `iterations` to reach.
    ///
    /// # Errors
    /// As [`AlsParams::fit`].
    pub fn fit_from(&self, data: &Interactions, start: Option<&AlsModel>) -> Result<AlsModel> {
        self.check()?;
        if data.matrix.nnz() == 0 {
            return Err(RecommendError::Empty);
        }
        let started = Instant::now();
        let f = self.factors;
        let mut user_conf = data.matrix.clone();
        user_conf
            .values
            .iter_mut()
            .zip(&data.times.values)
            .for_each(|(v, &age)| *v = self.confidence(*v, age));
        let item_conf = user_conf.transpose();
        let mut rng = SplitMix64::new(self.seed);
        let mut init = |n: usize| (0..n * f).map(|_| rng.next_f32() * 0.01).collect::<Vec<f32>>();
        let mut users = init(data.n_users());
        let mut items = init(data.n_items());
        if let Some(start) = start.filter(|m| {
            (m.n_users, m.n_items, m.params.factors) == (data.n_users(), data.n_items(), self.factors)
        }) {
            users.copy_from_slice(&start.user_factors);
            items.copy_from_slice(&start.item_factors);
        }
        for _ in 0..self.iterations {
            half_step(&mut users, &items, &user_conf, f, self.regularization, self.cg_steps);
            half_step(&mut items, &users, &item_conf, f, self.regularization, self.cg_steps);
        }
        Ok(AlsModel {
            params: self.clone(),
            user_factors: users,
            item_factors: items,
            n_users: data.n_users(),
            n_items: data.n_items(),
            train_seconds: started.elapsed().as_secs_f64(),
        })
    }
}

impl AlsParams {
    /// The confidence of an interaction of weight `w` that happened `age` days before the
    /// latest: `1 + alpha · w'` with `w' = ln(1 + w)` under `log_weights`, the boost halved
    /// every `half_life_days`.
    #[must_use]
    pub fn confidence(&self, w: f32, age: f32) -> f32 {
        let w = if self.log_weights { w.ln_1p() } else { w };
        1.0 + self.alpha * w * self.half_life_days.map_or(1.0, |h| (-age / h).exp2())
    }
}

/// `YᵀY + λI`, `f x f` row-major.
fn gram(y: &[f32], f: usize, regularization: f32) -> Vec<f32> {
    let partial = y
        .par_chunks(f * 256)
        .map(|block| {
            let mut g = vec![0f32; f * f];
            for row in block.chunks_exact(f) {
                for a in 0..f {
                    let ra = row[a];
                    let ga = &mut g[a * f..(a + 1) * f];
                    for (gab, rb) in ga.iter_mut().zip(row) {
                        *gab += ra * rb;
                    }
                }
            }
            g
        })
        .collect::<Vec<_>>();
    // Summed in block order, not by rayon's reduce (whose combination tree follows the
    // scheduling): the same seed gives the same factors on any run and thread count.
    let partial = partial.into_iter().fold(vec![0f32; f * f], |mut a, b| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
    });
    let mut g = partial;
    for a in 0..f {
        g[a * f + a] += regularization;
    }
    g
}

/// `out = G v` for the dense `f x f` matrix `G`.
fn matvec(g: &[f32], v: &[f32], out: &mut [f32]) {
    let f = v.len();
    for (o, row) in out.iter_mut().zip(g.chunks_exact(f)) {
        *o = dot(row, v);
    }
}

/// Updates every row of `x` by CG, with `y` fixed and `conf` the confidences (rows of `x`).
fn half_step(x: &mut [f32], y: &[f32], conf: &Csr, f: usize, regularization: f32, cg_steps: usize) {
    let g = gram(y, f, regularization);
    x.par_chunks_mut(f).enumerate().for_each_init(
        || (vec![0f32; f], vec![0f32; f], vec![0f32; f]),
        |(r, p, ap), (u, xu)| {
            // r = Yᵀ C_u p_u - (YᵀY + λI + Yᵀ(C_u - I)Y) x_u
            matvec(&g, xu, r);
            r.iter_mut().for_each(|v| *v = -*v);
            for (i, c) in conf.row(u) {
                let yi = &y[i as usize * f..(i as usize + 1) * f];
                let coef = c - (c - 1.0) * dot(yi, xu);
                r.iter_mut().zip(yi).for_each(|(rv, yv)| *rv += coef * yv);
            }
            p.copy_from_slice(r);
            let mut rs_old = dot(r, r);
            if rs_old < 1e-20 {
                return;
            }
            for _ in 0..cg_steps {
                matvec(&g, p, ap);
                for (i, c) in conf.row(u) {
                    let yi = &y[i as usize * f..(i as usize + 1) * f];
                    let coef = (c - 1.0) * dot(yi, p);
                    ap.iter_mut().zip(yi).for_each(|(av, yv)| *av += coef * yv);
                }
                let step = rs_old / dot(p, ap);
                xu.iter_mut().zip(p.iter()).for_each(|(xv, pv)| *xv += step * pv);
                r.iter_mut().zip(ap.iter()).for_each(|(rv, av)| *rv -= step * av);
                let rs_new = dot(r, r);
                if rs_new < 1e-20 {
                    break;
                }
                let beta = rs_new / rs_old;
                p.iter_mut().zip(r.iter()).for_each(|(pv, rv)| *pv = rv + beta * *pv);
                rs_old = rs_new;
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::data::Record;

    /// Two blocks: users 0-3 x items a-d, users 4-7 x items e-h, each user missing one item.
    fn blocks() -> Interactions {
        let mut records = Vec::new();
        for u in 0..8 {
            let base = if u < 4 { 0 } else { 4 };
            for i in 0..4 {
                if i != u % 4 {
                    records.push(Record {
                        user: format!("u{u}"),
                        item: format!("i{}", base + i),
                        weight: 1.0,
                        ts: 0,
                    });
                }
            }
        }
        Interactions::from_records(&records)
    }

    #[test]
    fn on_a_block_diagonal_matrix_the_best_unseen_item_is_in_the_users_block() {
        let data = blocks();
        let model = AlsParams::default().factors(4).regularization(0.1).iterations(10).fit(&data).unwrap();
        let mut scores = vec![0f32; data.n_items()];
        for u in 0..8 {
            let uid = data.users.get(&format!("u{u}")).unwrap() as usize;
            model.score_user(uid, &mut scores);
            for &seen in data.matrix.row_indices(uid) {
                scores[seen as usize] = f32::NEG_INFINITY;
            }
            let best = (0..scores.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b])).unwrap();
            let base = if u < 4 { 0 } else { 4 };
            assert_eq!(data.items.name(best as u32), format!("i{}", base + u % 4), "user {u}");
        }
    }

    #[test]
    fn with_a_half_life_an_interaction_one_half_life_old_gets_half_the_confidence_boost() {
        let params = AlsParams { alpha: 10.0, log_weights: true, ..AlsParams::default() };
        let boost = 10.0 * 3f32.ln_1p();
        assert!((params.confidence(3.0, 50.0) - (1.0 + boost)).abs() < 1e-5);
        let decayed = AlsParams { half_life_days: Some(14.0), ..params };
        assert!((decayed.confidence(3.0, 0.0) - (1.0 + boost)).abs() < 1e-5);
        assert!((decayed.confidence(3.0, 14.0) - (1.0 + boost / 2.0)).abs() < 1e-5);
        assert!((decayed.confidence(3.0, 28.0) - (1.0 + boost / 4.0)).abs() < 1e-5);
        assert!(AlsParams { half_life_days: Some(0.0), ..AlsParams::default() }.check().is_err());
    }

    #[test]
    fn a_fixed_seed_gives_identical_factors() {
        let data = blocks();
        let a = AlsParams::default().factors(4).iterations(3).fit(&data).unwrap();
        let b = AlsParams::default().factors(4).iterations(3).fit(&data).unwrap();
        assert_eq!(a.user_factors, b.user_factors);
        assert_eq!(a.item_factors, b.item_factors);
    }

    #[test]
    fn the_factors_do_not_depend_on_the_thread_count() {
        // 3,000 items: the Gram matrix sums a dozen blocks, in whatever order threads finish.
        let records: Vec<Record> = (0..400)
            .flat_map(|u| {
                (0..12).map(move |j| Record {
                    user: format!("u{u}"),
                    item: format!("i{}", (u * 37 + j * 251) % 3_000),
                    weight: 1.0 + (j % 3) as f32,
                    ts: 0,
                })
            })
            .collect();
        let data = Interactions::from_records(&records);
        let fit = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| AlsParams::default().factors(16).iterations(4).fit(&data).unwrap())
        };
        let (one, four) = (fit(1), fit(4));
        assert_eq!(one.user_factors, four.user_factors);
        assert_eq!(one.item_factors, four.item_factors);
    }

    #[test]
    fn a_warm_start_continues_where_the_earlier_fit_stopped() {
        let data = blocks();
        let params = AlsParams::default().factors(4).regularization(0.1);
        let five = params.clone().iterations(5).fit(&data).unwrap();
        let ten = params.clone().iterations(10).fit(&data).unwrap();
        let five_more = params.clone().iterations(5).fit_from(&data, Some(&five)).unwrap();
        assert_eq!(five_more.user_factors, ten.user_factors);
        assert_eq!(five_more.item_factors, ten.item_factors);
        // A start of another shape is ignored.
        let other = params.clone().factors(3).iterations(5).fit(&data).unwrap();
        assert_eq!(
            params.clone().iterations(5).fit_from(&data, Some(&other)).unwrap().user_factors,
            five.user_factors
        );
    }

    #[test]
    fn zero_factors_are_refused() {
        assert!(AlsParams::default().factors(0).fit(&blocks()).is_err());
    }
}
