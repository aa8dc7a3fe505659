//! EASE (Steck 2019): an item-item linear model with a zero diagonal in closed form,
//! `P = (XᵀX + λI)⁻¹`, `B_ij = -P_ij / P_jj` (`B_jj = 0`); a user's scores are `x_u B`.
//!
//! The Gram matrix is dense (`items²` doubles), so the closed form is only used up to
//! [`EaseParams::max_items`] items; above that `fit` refuses with
//! [`RecommendError::TooManyItems`] and the hybrid uses the sparse co-occurrence model
//! ([`super::cooccurrence`]) for the item-neighbourhood signal instead. The inverse is ours:
//! a blocked right-looking Cholesky (panels of `BLOCK` columns, trailing update in parallel)
//! followed by blocked multi-right-hand-side triangular solves, all `f64`, so the matrix is
//! streamed from memory `n / BLOCK` times rather than `n` times.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Csr, Interactions};
use super::errors::{RecommendError, Result};

/// Columns per panel of the blocked factorisation and solves.
const BLOCK: usize = 64;

/// EASE hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EaseParams {
    /// L2 regulariser λ added to the Gram diagonal (default 300).
    pub lambda: f64,
    /// Largest catalogue for the dense closed form (default 12,000: ~1.2 GB of `f64` Gram).
    pub max_items: usize,
    /// Treat every interaction as 1 (default true); otherwise use the weights.
    pub binary: bool,
    /// Dropout probability `p` of the denoising variant (EDLAE, Steck 2020): each item's
    /// regulariser grows with its own Gram diagonal, `λ + p / (1 - p) · G_jj`, which shrinks
    /// the weight of popular items and widens coverage (default 0: plain EASE).
    pub dropout: f64,
    /// Half-life in days of a history item's value when a user is scored (default none): with
    /// one, what a customer took last weighs most, for data where the next purchase is asked.
    pub half_life_days: Option<f32>,
}

impl Default for EaseParams {
    fn default() -> Self {
        Self { lambda: 300.0, max_items: 12_000, binary: true, dropout: 0.0, half_life_days: None }
    }
}

/// A fitted EASE model: the dense item-item weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EaseModel {
    /// The parameters used.
    pub params: EaseParams,
    /// Items.
    pub n_items: usize,
    /// `B`, items x items row-major, `f32` (scores need no more).
    pub weights: Vec<f32>,
    /// Wall-clock seconds the fit took.
    pub train_seconds: f64,
}

impl EaseParams {
    /// Sets λ.
    #[must_use]
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }

    /// Refuses a non-positive or non-finite λ.
    ///
    /// # Errors
    /// As above.
    pub fn check(&self) -> Result<()> {
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err(RecommendError::InvalidParams {
                name: "lambda",
                reason: "must be finite and > 0".into(),
            });
        }
        if self.half_life_days.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
            return Err(RecommendError::InvalidParams {
                name: "half_life_days",
                reason: "must be > 0".into(),
            });
        }
        Ok(())
    }

    /// Fits `B` in closed form.
    ///
    /// # Errors
    /// Invalid λ, no interactions, or more than `max_items` items.
    pub fn fit(&self, data: &Interactions) -> Result<EaseModel> {
        self.check()?;
        let n = data.n_items();
        if data.matrix.nnz() == 0 {
            return Err(RecommendError::Empty);
        }
        if n > self.max_items {
            return Err(RecommendError::TooManyItems { items: n, limit: self.max_items });
        }
        let started = Instant::now();
        let mut g = self.gram(data);
        cholesky_in_place(&mut g, n)?;
        let p = inverse_from_cholesky(&g, n);
        drop(g);
        let mut weights = vec![0f32; n * n];
        weights.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            for (j, b) in row.iter_mut().enumerate() {
                if i != j {
                    *b = (-p[i * n + j] / p[j * n + j]) as f32;
                }
            }
        });
        Ok(EaseModel {
            params: self.clone(),
            n_items: n,
            weights,
            train_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// `XᵀX + λI` (plus the dropout term), lower triangle only (the rest is never read), built row by row in parallel.
    fn gram(&self, data: &Interactions) -> Vec<f64> {
        let n = data.n_items();
        let by_item = data.matrix.transpose();
        let value = |v: f32| if self.binary { 1.0 } else { f64::from(v) };
        let mut g = vec![0f64; n * n];
        g.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            for (u, xi) in by_item.row(i) {
                let xi = value(xi);
                for (j, xj) in data.matrix.row(u as usize) {
                    if (j as usize) <= i {
                        row[j as usize] += xi * value(xj);
                    }
                }
            }
            row[i] += self.dropout / (1.0 - self.dropout) * row[i] + self.lambda;
        });
        g
    }
}

impl EaseModel {
    /// [`EaseModel::score_history`] for several users at once: row `b` of `out` (`n_items`
    /// wide) gets user `users[b]`'s scores from their row of `history`. The same sums in the
    /// same order, but each row of `B` (items² floats, far larger than the caches) is read from
    /// memory once for every user of the block who holds that item, not once per user.
    /// `ages` has `history`'s pattern (days); `pairs` is a reusable buffer.
    pub fn score_users(
        &self,
        history: &Csr,
        ages: &Csr,
        users: &[usize],
        out: &mut [f32],
        pairs: &mut Vec<(u32, u32, f32)>,
    ) {
        let n = self.n_items;
        out[..users.len() * n].iter_mut().for_each(|o| *o = 0.0);
        pairs.clear();
        for (b, &u) in users.iter().enumerate() {
            let span = history.indptr[u]..history.indptr[u + 1];
            pairs.extend(
                history.indices[span.clone()]
                    .iter()
                    .zip(&history.values[span.clone()])
                    .zip(&ages.values[span])
                    .map(|((&i, &x), &age)| (i, b as u32, self.value(x, age))),
            );
        }
        // By item, then by user: each user still adds its rows in ascending item order.
        pairs.sort_unstable_by_key(|&(i, b, _)| (i, b));
        for &(i, b, x) in pairs.iter() {
            let row = &self.weights[i as usize * n..(i as usize + 1) * n];
            let acc = &mut out[b as usize * n..(b as usize + 1) * n];
            acc.iter_mut().zip(row).for_each(|(o, w)| *o += x * w);
        }
    }

    /// A history item's value in a user's profile: its weight (1 when binary), halved every
    /// `half_life_days` of age.
    fn value(&self, weight: f32, age: f32) -> f32 {
        let x = if self.params.binary { 1.0 } else { weight };
        self.params.half_life_days.map_or(x, |h| x * (-age / h).exp2())
    }

    /// Sets `out` to `sum_i x_ui B[i, :]` over the user's history `(item, weight, age in
    /// days)`.
    pub fn score_history(&self, history: impl Iterator<Item = (u32, f32, f32)>, out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (i, w, age) in history {
            let x = self.value(w, age);
            let row = &self.weights[i as usize * self.n_items..(i as usize + 1) * self.n_items];
            out.iter_mut().zip(row).for_each(|(o, b)| *o += x * b);
        }
    }
}

/// Overwrites the lower triangle of the symmetric positive definite `a` (n x n, row-major)
/// with its Cholesky factor `L` (`a = L Lᵀ`); the upper triangle is left as garbage.
///
/// # Errors
/// [`RecommendError::NotPositiveDefinite`] when a pivot is not positive.
pub fn cholesky_in_place(a: &mut [f64], n: usize) -> Result<()> {
    let mut panel = Vec::new();
    for p0 in (0..n).step_by(BLOCK) {
        let p1 = (p0 + BLOCK).min(n);
        let w = p1 - p0;
        // 1. The diagonal block, sequentially (earlier panels are already subtracted).
        for j in p0..p1 {
            let mut d = a[j * n + j];
            for k in p0..j {
                d -= a[j * n + k] * a[j * n + k];
            }
            if !(d > 0.0 && d.is_finite()) {
                return Err(RecommendError::NotPositiveDefinite { pivot: j });
            }
            let d = d.sqrt();
            a[j * n + j] = d;
            for i in j + 1..p1 {
                let mut s = a[i * n + j];
                for k in p0..j {
                    s -= a[i * n + k] * a[j * n + k];
                }
                a[i * n + j] = s / d;
            }
        }
        if p1 == n {
            break;
        }
        // 2. The panel below it: a triangular solve per row, rows in parallel.
        let (top, bottom) = a.split_at_mut(p1 * n);
        let diag = &top[p0 * n..];
        bottom.par_chunks_mut(n).for_each(|row| {
            for j in p0..p1 {
                let mut s = row[j];
                for k in p0..j {
                    s -= row[k] * diag[(j - p0) * n + k];
                }
                row[j] = s / diag[(j - p0) * n + j];
            }
        });
        // 3. The trailing lower triangle: A[i][j] -= L[i][panel] · L[j][panel].
        panel.clear();
        for row in bottom.chunks(n) {
            panel.extend_from_slice(&row[p0..p1]);
        }
        bottom.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
            let li = &panel[r * w..(r + 1) * w];
            for c in 0..=r {
                let lj = &panel[c * w..(c + 1) * w];
                row[p1 + c] -= dot64(li, lj);
            }
        });
    }
    Ok(())
}

/// `(L Lᵀ)⁻¹` from the lower-triangular `L` in `l`, as a full symmetric row-major matrix.
/// Blocks of `BLOCK` unit vectors are solved together (forward, then backward), in parallel.
#[must_use]
pub fn inverse_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    let blocks: Vec<(usize, Vec<f64>)> = (0..n)
        .step_by(BLOCK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|c0| {
            let w = BLOCK.min(n - c0);
            // z: n x w, row i holds the i-th entries of the w right-hand sides.
            let mut z = vec![0f64; n * w];
            for c in 0..w {
                z[(c0 + c) * w + c] = 1.0;
            }
            // Forward: L z = E, rows above c0 stay zero.
            for i in c0..n {
                let (done, rest) = z.split_at_mut(i * w);
                let zi = &mut rest[..w];
                let li = &l[i * n..i * n + i];
                for k in c0..i {
                    let lik = li[k];
                    if lik != 0.0 {
                        let zk = &done[k * w..(k + 1) * w];
                        zi.iter_mut().zip(zk).for_each(|(a, b)| *a -= lik * b);
                    }
                }
                let d = l[i * n + i];
                zi.iter_mut().for_each(|a| *a /= d);
            }
            // Backward: Lᵀ p = z, column-oriented so L is read by rows.
            for i in (0..n).rev() {
                let d = l[i * n + i];
                let (before, rest) = z.split_at_mut(i * w);
                let pi = &mut rest[..w];
                pi.iter_mut().for_each(|a| *a /= d);
                let li = &l[i * n..i * n + i];
                for (k, &lik) in li.iter().enumerate() {
                    if lik != 0.0 {
                        let zk = &mut before[k * w..(k + 1) * w];
                        zk.iter_mut().zip(pi.iter()).for_each(|(a, b)| *a -= lik * b);
                    }
                }
            }
            (c0, z)
        })
        .collect();
    // Block c0 holds columns c0..c0+w of the inverse; it is symmetric, so those are rows too.
    let mut p = vec![0f64; n * n];
    for (c0, z) in blocks {
        let w = z.len() / n;
        for i in 0..n {
            for c in 0..w {
                p[(c0 + c) * n + i] = z[i * w + c];
            }
        }
    }
    p
}

fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::data::Record;

    /// X = [[1,1,0],[0,1,1],[1,1,1]] (users x items a,b,c).
    fn three_users() -> Interactions {
        let rows =
            [("u1", "a"), ("u1", "b"), ("u2", "b"), ("u2", "c"), ("u3", "a"), ("u3", "b"), ("u3", "c")];
        let records: Vec<_> = rows
            .iter()
            .map(|(u, i)| Record { user: (*u).into(), item: (*i).into(), weight: 1.0, ts: 0 })
            .collect();
        Interactions::from_records(&records)
    }

    // X as in `three_users`, λ = 1:
    // G = XᵀX + I = [[3,2,1],[2,4,2],[1,2,3]], det = 3(12-4) - 2(6-2) + 1(4-4) = 16,
    // adj(G) = [[8,-4,0],[-4,8,-4],[0,-4,8]], P = adj/16 = [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]],
    // B_ij = -P_ij / P_jj: B = [[0, .5, 0], [.5, 0, .5], [0, .5, 0]].
    #[test]
    fn a_three_item_case_matches_the_hand_computed_inverse() {
        let model = EaseParams::default().lambda(1.0).fit(&three_users()).unwrap();
        let expected = [0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0];
        for (got, want) in model.weights.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?}", model.weights);
        }
    }

    #[test]
    fn the_blocked_inverse_of_a_larger_matrix_times_the_matrix_is_the_identity() {
        // Spans two panels, with a ragged last one.
        let n = BLOCK + 7;
        let a: Vec<f64> = (0..n * n)
            .map(|x| {
                let (i, j) = (x / n, x % n);
                if i == j { n as f64 } else { 1.0 / (1.0 + (i + j) as f64) }
            })
            .collect();
        let mut l = a.clone();
        cholesky_in_place(&mut l, n).unwrap();
        let p = inverse_from_cholesky(&l, n);
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| a[i * n + k] * p[k * n + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "({i},{j}) = {v}");
            }
        }
    }

    #[test]
    fn scoring_a_block_of_users_gives_each_users_own_scores() {
        let data = three_users();
        let model = EaseParams::default().lambda(1.0).fit(&data).unwrap();
        let users = [2, 0, 1];
        let mut block = vec![9f32; 3 * 3];
        model.score_users(&data.matrix, &data.times, &users, &mut block, &mut Vec::new());
        for (b, &u) in users.iter().enumerate() {
            let mut one = vec![0f32; 3];
            model.score_history(data.matrix.row(u).map(|(i, w)| (i, w, 0.0)), &mut one);
            assert_eq!(&block[b * 3..(b + 1) * 3], one.as_slice(), "user {u}");
        }
    }

    #[test]
    fn with_a_half_life_the_recent_history_item_leads_the_scores() {
        // b goes with a, d goes with c; u took a 100 days ago and c today.
        let day = 86_400;
        let rows = [
            ("v1", "a", 100),
            ("v1", "b", 100),
            ("v2", "a", 100),
            ("v2", "b", 100),
            ("v3", "c", 100),
            ("v3", "d", 100),
            ("v4", "c", 100),
            ("v4", "d", 100),
            ("u", "a", 0),
            ("u", "c", 100),
        ];
        let records: Vec<_> = rows
            .iter()
            .map(|(u, i, t)| Record { user: (*u).into(), item: (*i).into(), weight: 1.0, ts: t * day })
            .collect();
        let data = Interactions::from_records(&records);
        let (b, d) = (data.items.get("b").unwrap() as usize, data.items.get("d").unwrap() as usize);
        let u = data.users.get("u").unwrap() as usize;
        let scores = |half_life_days| {
            let model =
                EaseParams { half_life_days, ..EaseParams::default().lambda(1.0) }.fit(&data).unwrap();
            let mut block = vec![0f32; data.n_items()];
            model.score_users(&data.matrix, &data.times, &[u], &mut block, &mut Vec::new());
            block
        };
        let flat = scores(None);
        assert!((flat[b] - flat[d]).abs() < 1e-5, "{flat:?}");
        let decayed = scores(Some(30.0));
        // a weighs 2^(-100/30) ≈ 0.1 of c: d (c's partner) leads b (a's) by far.
        assert!(decayed[d] - decayed[b] > 0.5, "{decayed:?}");
    }

    #[test]
    fn a_catalogue_above_the_limit_is_refused() {
        let records: Vec<_> =
            (0..3).map(|i| Record { user: "u".into(), item: format!("i{i}"), weight: 1.0, ts: 0 }).collect();
        let params = EaseParams { max_items: 2, ..EaseParams::default() };
        assert!(matches!(
            params.fit(&Interactions::from_records(&records)),
            Err(RecommendError::TooManyItems { .. })
        ));
    }
}
