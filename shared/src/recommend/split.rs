//! Train/test splits with a fixed seed: per-item stratified (as Microsoft recommenders'
//! `python_stratified_split` applied per item), per-user random, and global chronological.
//! The random generator is SplitMix64, ours, so a split is reproducible across platforms
//! and dependency upgrades.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::data::Record;

/// SplitMix64: tiny, fast, good enough for shuffles and initialisation; stable forever.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// How a train/test split is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    /// For each item, shuffle its rows and put the first `round(ratio * n)` in train.
    StratifiedByItem,
    /// For each user, shuffle their rows and put the first `round(ratio * n)` in train.
    RandomByUser,
    /// Sort every row by time; the earliest `round(ratio * n)` are train.
    Chronological,
}

/// Splits `records` into (train, test) with `ratio` in train.
#[must_use]
pub fn split(records: &[Record], kind: SplitKind, ratio: f64, seed: u64) -> (Vec<Record>, Vec<Record>) {
    let mut train = Vec::new();
    let mut test = Vec::new();
    let mut take = |rows: &[usize]| {
        let cut = (ratio * rows.len() as f64).round() as usize;
        train.extend(rows[..cut].iter().map(|&i| records[i].clone()));
        test.extend(rows[cut..].iter().map(|&i| records[i].clone()));
    };
    match kind {
        SplitKind::StratifiedByItem | SplitKind::RandomByUser => {
            // Groups in a fixed (sorted) order so the seed alone decides the split.
            let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, r) in records.iter().enumerate() {
                let key = if kind == SplitKind::StratifiedByItem { &r.item } else { &r.user };
                groups.entry(key).or_default().push(i);
            }
            let mut rng = SplitMix64::new(seed);
            for rows in groups.values_mut() {
                rng.shuffle(rows);
                take(rows);
            }
        }
        SplitKind::Chronological => {
            let mut rows: Vec<usize> = (0..records.len()).collect();
            rows.sort_by_key(|&i| (records[i].ts, i));
            take(&rows);
        }
    }
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(user: &str, item: &str, ts: i64) -> Record {
        Record { user: user.into(), item: item.into(), weight: 1.0, ts }
    }

    #[test]
    fn a_stratified_split_keeps_three_quarters_of_every_item_and_is_reproducible() {
        let records: Vec<_> =
            (0..40).map(|i| rec(&format!("u{i}"), if i < 8 { "a" } else { "b" }, i)).collect();
        let (train, test) = split(&records, SplitKind::StratifiedByItem, 0.75, 42);
        assert_eq!(train.iter().filter(|r| r.item == "a").count(), 6);
        assert_eq!(train.iter().filter(|r| r.item == "b").count(), 24);
        assert_eq!(test.len(), 10);
        assert_eq!(split(&records, SplitKind::StratifiedByItem, 0.75, 42).0, train);
    }

    #[test]
    fn a_chronological_split_puts_the_latest_rows_in_test() {
        let records: Vec<_> = (0..10).rev().map(|t| rec("u", &format!("i{t}"), t)).collect();
        let (train, test) = split(&records, SplitKind::Chronological, 0.8, 42);
        assert!(train.iter().all(|r| r.ts < 8));
        assert_eq!(test.iter().map(|r| r.ts).collect::<Vec<_>>(), vec![8, 9]);
    }
}
