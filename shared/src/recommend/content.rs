//! Content similarity: TF-IDF over item descriptions (and category words), L2-normalised, so
//! items nobody has interacted with yet can still be recommended next to ones that share rare
//! words. Tokens are lower-cased alphanumeric runs of two or more characters; the inverse
//! document frequency is smoothed, `ln((1 + N) / (1 + df)) + 1`.
//!
//! Neighbours are found through an inverted index, so only items sharing a word are compared.
//! A word in very many descriptions ("set", "red" across 100k SKUs) would make that quadratic
//! while saying little about similarity (its IDF is the lowest), so words in more than
//! [`ContentParams::max_document_frequency`] descriptions keep their place in the vectors'
//! norms but are not walked: the work is at most `Σ_words df²` over the kept words.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::Csr;

/// TF-IDF hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentParams {
    /// Neighbours kept per item (default 50).
    pub neighbours: usize,
    /// Words in more descriptions than this are not walked when finding neighbours (default
    /// 1,000; the commonest word of Online Retail, "set", is in 316 of 3,665).
    pub max_document_frequency: usize,
}

impl Default for ContentParams {
    fn default() -> Self {
        Self { neighbours: 50, max_document_frequency: 1_000 }
    }
}

/// Item vectors and each item's most similar items by cosine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentModel {
    /// The parameters used.
    pub params: ContentParams,
    /// Items x items, top neighbours by cosine of TF-IDF vectors.
    pub similar: Csr,
}

fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| t.chars().count() >= 2).map(str::to_lowercase)
}

impl ContentParams {
    /// Builds TF-IDF vectors for `texts` (one per item, same order as the item ids) and each
    /// item's top neighbours through an inverted index (only items sharing a word are compared).
    #[must_use]
    pub fn fit(&self, texts: &[String]) -> ContentModel {
        let n = texts.len();
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut docs: Vec<HashMap<u32, f32>> = Vec::with_capacity(n);
        for text in texts {
            let mut tf = HashMap::new();
            for t in tokens(text) {
                let next = vocabulary.len() as u32;
                *tf.entry(*vocabulary.entry(t).or_insert(next)).or_insert(0.0) += 1.0;
            }
            docs.push(tf);
        }
        let mut df = vec![0f32; vocabulary.len()];
        for d in &docs {
            for &t in d.keys() {
                df[t as usize] += 1.0;
            }
        }
        let idf: Vec<f32> = df.iter().map(|&d| ((1.0 + n as f32) / (1.0 + d)).ln() + 1.0).collect();
        let mut vectors = Vec::with_capacity(n);
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); vocabulary.len()];
        for (i, d) in docs.iter().enumerate() {
            let mut v: Vec<(u32, f32)> = d.iter().map(|(&t, &tf)| (t, tf * idf[t as usize])).collect();
            // In term order, not the map's (seeded anew in every process): the f32 sums below,
            // and so which of two equally described neighbours ranks first, are the same on
            // every run.
            v.sort_unstable_by_key(|&(t, _)| t);
            let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|(_, x)| *x /= norm.max(f32::MIN_POSITIVE));
            for &(t, x) in &v {
                postings[t as usize].push((i as u32, x));
            }
            vectors.push(v);
        }
        let rows: Vec<Vec<(u32, f32)>> = vectors
            .par_iter()
            .enumerate()
            .map_init(
                || (vec![0f32; n], Vec::new()),
                |(acc, touched), (i, v)| {
                    for &(t, x) in v {
                        let posting = &postings[t as usize];
                        if posting.len() > self.max_document_frequency {
                            continue;
                        }
                        for &(j, y) in posting {
                            if j as usize != i {
                                if acc[j as usize] == 0.0 {
                                    touched.push(j);
                                }
                                acc[j as usize] += x * y;
                            }
                        }
                    }
                    let mut row: Vec<(u32, f32)> = touched.iter().map(|&j| (j, acc[j as usize])).collect();
                    touched.iter().for_each(|&j| acc[j as usize] = 0.0);
                    touched.clear();
                    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
                    if row.len() > self.neighbours {
                        row.select_nth_unstable_by(self.neighbours, order);
                        row.truncate(self.neighbours);
                    }
                    row.sort_unstable_by(order);
                    // The row was sized for every item reached: keep only what is kept.
                    row.shrink_to_fit();
                    row
                },
            )
            .collect();
        ContentModel { params: self.clone(), similar: Csr::from_rows(n, rows) }
    }
}

impl ContentModel {
    /// Item `i`'s `k` most similar items by description, best first (ties: the lower index).
    #[must_use]
    pub fn neighbours(&self, i: usize, k: usize) -> Vec<(u32, f32)> {
        let mut row: Vec<(u32, f32)> = self.similar.row(i).collect();
        row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        row.truncate(k);
        row
    }

    /// Scores every item by summed similarity to the user's history into `out`.
    pub fn score_history(&self, history: impl Iterator<Item = u32>, out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for i in history {
            for (j, s) in self.similar.row(i as usize) {
                out[j as usize] += s;
            }
        }
    }

    /// Adds summed similarity to the history into `out` at the items it reaches only, pushing
    /// each newly reached item onto `touched`; `out` must be 0 wherever it has not been touched.
    pub fn accumulate_history(
        &self,
        history: impl Iterator<Item = u32>,
        out: &mut [f32],
        touched: &mut Vec<u32>,
    ) {
        for i in history {
            self.similar.accumulate_row(i as usize, 1.0, out, touched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_the_same_texts_twice_gives_bit_identical_neighbours() {
        // Every HashMap is seeded anew, so term order used to differ between fits: sums in
        // another order moved cosines by an ulp and swapped equally described neighbours.
        let texts: Vec<String> = (0..300)
            .map(|i| format!("vintage heart {} lantern glass tin {} set of {} red", i % 7, i % 11, i % 3))
            .collect();
        let params = ContentParams::default();
        let (a, b) = (params.fit(&texts), params.fit(&texts));
        assert_eq!(a.similar.indices, b.similar.indices);
        let bits = |m: &ContentModel| m.similar.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn the_item_sharing_a_rare_word_ranks_first() {
        let texts: Vec<String> = [
            "zinc lantern heart red",
            "heart red mug",
            "zinc lantern planter",
            "heart red cushion",
            "heart red tin",
        ]
        .map(String::from)
        .to_vec();
        let model = ContentParams::default().fit(&texts);
        // Item 0 shares the rare "zinc" and "lantern" with item 2, the common "heart" and
        // "red" with items 1, 3 and 4.
        let first = model.similar.row(0).max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!(first.0, 2);
        assert_eq!(model.neighbours(0, 1)[0].0, 2);
    }

    #[test]
    fn words_in_too_many_descriptions_link_nothing() {
        let texts: Vec<String> = ["red mug", "red tin", "red cup", "blue mug"].map(String::from).to_vec();
        let all = ContentParams::default().fit(&texts);
        assert_eq!(all.similar.row(1).count(), 2, "tin shares red with mug and cup");
        // "red" is in 3 descriptions: above a limit of 2 it is not walked; "mug" (2) still is.
        let capped = ContentParams { max_document_frequency: 2, ..ContentParams::default() }.fit(&texts);
        assert_eq!(capped.similar.row(1).count(), 0);
        assert_eq!(capped.neighbours(0, 5).iter().map(|p| p.0).collect::<Vec<_>>(), vec![3]);
    }
}
