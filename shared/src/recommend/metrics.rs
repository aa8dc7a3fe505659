//! Ranking metrics at k, per user, as the Microsoft recommenders benchmark defines them:
//! precision divides by k, recall by the relevant count, nDCG uses binary gains (or graded
//! ones) with the ideal DCG over `min(|relevant|, k)` positions, MAP@k normalises by
//! `min(|relevant|, k)`. Averages are over the users evaluated.

use std::collections::HashMap;

/// Hit rate, precision, recall and nDCG at `k` averaged over a set of lists (one per case), and
/// the catalogue coverage of the lists: the figures the cart and similar-items evaluations report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ListScores {
    /// Cases judged.
    pub cases: usize,
    /// Share of lists with at least one relevant item in the top `k`.
    pub hit_rate: f64,
    /// Precision at `k`.
    pub precision: f64,
    /// Recall at `k`.
    pub recall: f64,
    /// nDCG at `k`.
    pub ndcg: f64,
    /// Distinct items listed over the catalogue.
    pub coverage: f64,
}

/// Sums [`ListScores`] case by case ([`ListScoring::add`]), then averages them
/// ([`ListScoring::finish`]).
#[derive(Debug, Clone, Default)]
pub struct ListScoring {
    sums: ListScores,
    listed: std::collections::HashSet<u32>,
}

impl ListScoring {
    /// Adds one case: its list, the relevant items the catalogue knows, and how many are
    /// relevant in all (those it does not know included).
    pub fn add(&mut self, list: &[u32], relevant: &[u32], n_relevant: usize, k: usize) {
        let s = &mut self.sums;
        s.cases += 1;
        s.hit_rate += f64::from(u8::from(list.iter().take(k).any(|j| relevant.contains(j))));
        s.precision += precision_at_k(list, relevant, k);
        s.recall += recall_at_k(list, relevant, n_relevant, k);
        s.ndcg += ndcg_at_k(list, relevant, n_relevant, k);
        self.listed.extend(list.iter().take(k));
    }

    /// The averages, coverage over a catalogue of `items`.
    #[must_use]
    pub fn finish(self, items: usize) -> ListScores {
        let mut s = self.sums;
        let cases = s.cases.max(1) as f64;
        s.hit_rate /= cases;
        s.precision /= cases;
        s.recall /= cases;
        s.ndcg /= cases;
        s.coverage = self.listed.len() as f64 / items.max(1) as f64;
        s
    }
}

/// Items by how many lines name them since `days` before the latest line, most first (ties: by
/// name): the best sellers that top the evaluated lists up.
#[must_use]
pub fn recent_best_sellers<'a>(lines: &[(&'a str, i64)], days: i64) -> Vec<&'a str> {
    let last = lines.iter().map(|l| l.1).max().unwrap_or(0);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (item, _) in lines.iter().filter(|l| l.1 > last - days * 86_400) {
        *counts.entry(item).or_default() += 1;
    }
    let mut popular: Vec<(&str, usize)> = counts.into_iter().collect();
    popular.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    popular.into_iter().map(|(item, _)| item).collect()
}

/// Hits among the first `k` recommendations.
fn hits(recommended: &[u32], relevant: &[u32], k: usize) -> usize {
    recommended.iter().take(k).filter(|i| relevant.contains(i)).count()
}

/// `1 / log2(rank + 1)` for a 1-based rank.
fn discount(rank: usize) -> f64 {
    1.0 / ((rank + 1) as f64).log2()
}

/// Hits in the top `k` divided by `k` (even when fewer than `k` were recommended).
#[must_use]
pub fn precision_at_k(recommended: &[u32], relevant: &[u32], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    hits(recommended, relevant, k) as f64 / k as f64
}

/// Hits in the top `k` divided by `n_relevant`, the user's relevant count (which may include
/// items unknown to the model, so it is passed separately from `relevant`).
#[must_use]
pub fn recall_at_k(recommended: &[u32], relevant: &[u32], n_relevant: usize, k: usize) -> f64 {
    if n_relevant == 0 {
        return 0.0;
    }
    hits(recommended, relevant, k) as f64 / n_relevant as f64
}

/// nDCG@k with binary gains; the ideal ranks `min(n_relevant, k)` hits first.
#[must_use]
pub fn ndcg_at_k(recommended: &[u32], relevant: &[u32], n_relevant: usize, k: usize) -> f64 {
    let dcg: f64 = recommended
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| relevant.contains(i))
        .map(|(r, _)| discount(r + 1))
        .sum();
    let ideal: f64 = (1..=n_relevant.min(k)).map(discount).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// nDCG@k with graded gains (`gain / log2(rank + 1)`); the ideal sorts the gains descending.
#[must_use]
pub fn graded_ndcg_at_k(recommended: &[u32], gains: &HashMap<u32, f64>, k: usize) -> f64 {
    let dcg: f64 = recommended
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, i)| gains.get(i).copied().unwrap_or(0.0) * discount(r + 1))
        .sum();
    let mut ideal_gains: Vec<f64> = gains.values().copied().collect();
    ideal_gains.sort_by(|a, b| b.total_cmp(a));
    let ideal: f64 = ideal_gains.iter().take(k).enumerate().map(|(r, g)| g * discount(r + 1)).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// Average precision at k: the precision at each hit's rank, summed, over `min(n_relevant, k)`.
#[must_use]
pub fn average_precision_at_k(recommended: &[u32], relevant: &[u32], n_relevant: usize, k: usize) -> f64 {
    let denominator = n_relevant.min(k);
    if denominator == 0 {
        return 0.0;
    }
    let mut found = 0usize;
    let mut sum = 0.0;
    for (r, item) in recommended.iter().take(k).enumerate() {
        if relevant.contains(item) {
            found += 1;
            sum += found as f64 / (r + 1) as f64;
        }
    }
    sum / denominator as f64
}

/// Averages of the per-user metrics plus catalogue coverage.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Mean precision@k.
    pub precision: f64,
    /// Mean recall@k.
    pub recall: f64,
    /// Mean nDCG@k (binary gains).
    pub ndcg: f64,
    /// Mean average precision@k.
    pub map: f64,
    /// Distinct recommended items / items in training.
    pub coverage: f64,
    /// Users evaluated.
    pub users: usize,
}

/// One evaluated user: what was recommended, the relevant items the model knows, and the
/// relevant count including items it cannot know.
#[derive(Debug, Clone)]
pub struct Judged<'a> {
    /// Recommendations, best first.
    pub recommended: &'a [u32],
    /// Relevant items with model ids.
    pub relevant: &'a [u32],
    /// All relevant items (known or not).
    pub n_relevant: usize,
}

/// Averages over users; coverage = distinct recommended / `n_items`.
#[must_use]
pub fn summarise(users: &[Judged<'_>], k: usize, n_items: usize) -> Metrics {
    let n = users.len().max(1) as f64;
    let mut m = Metrics { users: users.len(), ..Metrics::default() };
    // By id, not by position below `n_items`: a validation slice's candidates are fewer than the
    // catalogue's ids, and an id above their count is still a distinct item recommended.
    let mut seen: std::collections::HashSet<u32> = std::collections::HashSet::new();
    for u in users {
        m.precision += precision_at_k(u.recommended, u.relevant, k) / n;
        m.recall += recall_at_k(u.recommended, u.relevant, u.n_relevant, k) / n;
        m.ndcg += ndcg_at_k(u.recommended, u.relevant, u.n_relevant, k) / n;
        m.map += average_precision_at_k(u.recommended, u.relevant, u.n_relevant, k) / n;
        seen.extend(u.recommended.iter().take(k));
    }
    m.coverage = seen.len() as f64 / n_items.max(1) as f64;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_every_distinct_item_recommended_whatever_its_id() {
        // A validation slice: 3 candidate items among a catalogue's ids up to 9.
        let relevant: [u32; 0] = [];
        let users = [
            Judged { recommended: &[0, 9], relevant: &relevant, n_relevant: 1 },
            Judged { recommended: &[9, 7], relevant: &relevant, n_relevant: 1 },
        ];
        assert_eq!(summarise(&users, 2, 3).coverage, 1.0);
        assert_eq!(summarise(&users, 1, 3).coverage, 2.0 / 3.0, "within k only");
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    // Recommended [1, 2, 3, 4], relevant {2, 4, 9}, k = 4.
    // Hits at ranks 2 and 4. P = 2/4; R = 2/3;
    // DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606;
    // IDCG over min(3, 4) = 3: 1 + 0.630930 + 0.5 = 2.130930; nDCG = 0.498182;
    // AP = (1/2 + 2/4) / min(3, 4) = 1/3.
    #[test]
    fn a_hand_worked_user_matches_every_metric() {
        let (rec, rel) = ([1, 2, 3, 4], [2, 4, 9]);
        close(precision_at_k(&rec, &rel, 4), 0.5);
        close(recall_at_k(&rec, &rel, 3, 4), 2.0 / 3.0);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        close(ndcg_at_k(&rec, &rel, 3, 4), dcg / (1.0 + 1.0 / 3f64.log2() + 0.5));
        close(average_precision_at_k(&rec, &rel, 3, 4), 1.0 / 3.0);
    }

    // One relevant item, k = 3, found at rank 1: every normalised metric is perfect except
    // precision, which still divides by k.
    #[test]
    fn fewer_relevant_items_than_k_normalise_by_the_relevant_count() {
        let (rec, rel) = ([7, 8, 9], [7]);
        close(precision_at_k(&rec, &rel, 3), 1.0 / 3.0);
        close(recall_at_k(&rec, &rel, 1, 3), 1.0);
        close(ndcg_at_k(&rec, &rel, 1, 3), 1.0);
        close(average_precision_at_k(&rec, &rel, 1, 3), 1.0);
    }

    // Two recommendations at k = 5, relevant {5, 6, 7, 8, 9, 10}, hit at rank 2:
    // P = 1/5 (not 1/2); R = 1/6; nDCG = 0.630930 / IDCG over 5 positions
    // (1 + 0.630930 + 0.5 + 0.430677 + 0.386853 = 2.948459); AP = (1/2) / 5.
    #[test]
    fn fewer_recommendations_than_k_still_divide_precision_by_k() {
        let (rec, rel) = ([1, 6], [5, 6, 7, 8, 9, 10]);
        close(precision_at_k(&rec, &rel, 5), 0.2);
        close(recall_at_k(&rec, &rel, 6, 5), 1.0 / 6.0);
        let ideal: f64 = (1..=5).map(|r| 1.0 / f64::from(r + 1).log2()).sum();
        close(ndcg_at_k(&rec, &rel, 6, 5), (1.0 / 3f64.log2()) / ideal);
        close(average_precision_at_k(&rec, &rel, 6, 5), 0.1);
    }

    // Gains {a: 3, b: 1}; ranking [b, a]: DCG = 1 + 3/log2(3) = 2.892789,
    // ideal [a, b] = 3 + 1/log2(3) = 3.630930, graded nDCG = 0.796707, while binary nDCG is 1.
    #[test]
    fn graded_gains_penalise_the_better_item_ranked_second_and_binary_does_not() {
        let gains = HashMap::from([(10, 3.0), (11, 1.0)]);
        let rec = [11, 10];
        let graded = graded_ndcg_at_k(&rec, &gains, 2);
        close(graded, (1.0 + 3.0 / 3f64.log2()) / (3.0 + 1.0 / 3f64.log2()));
        assert!((graded - 0.796_707).abs() < 1e-6);
        close(ndcg_at_k(&rec, &[10, 11], 2, 2), 1.0);
    }

    #[test]
    fn a_user_with_unknown_relevant_items_keeps_them_in_the_denominators() {
        // Relevant: item 3 (known) and two items the model never saw.
        close(recall_at_k(&[3], &[3], 3, 1), 1.0 / 3.0);
        close(ndcg_at_k(&[3], &[3], 3, 1), 1.0);
    }

    #[test]
    fn coverage_counts_distinct_recommended_items_over_the_catalogue() {
        let users = [
            Judged { recommended: &[0, 1], relevant: &[1], n_relevant: 1 },
            Judged { recommended: &[1, 2], relevant: &[], n_relevant: 1 },
        ];
        let m = summarise(&users, 2, 6);
        close(m.coverage, 0.5);
        close(m.precision, 0.25);
    }
}
