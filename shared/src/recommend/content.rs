//! Content similarity: TF-IDF over item descriptions (and category words), L2-normalised, so
//! items nobody has interacted with yet can still be recommended next to ones that share rare
//! words. Tokens are lower-cased alphanumeric runs of two or more characters; the inverse
//! document frequency is smoothed, `ln((1 + N) / (1 + df)) + 1`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::data::Csr;

/// TF-IDF hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentParams {
    /// Neighbours kept per item (default 50).
    pub neighbours: usize,
}

impl Default for ContentParams {
    fn default() -> Self {
        Self { neighbours: 50 }
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
            let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|(_, x)| *x /= norm.max(f32::MIN_POSITIVE));
            for &(t, x) in &v {
                postings[t as usize].push((i as u32, x));
            }
            vectors.push(v);
        }
        let mut triplets = Vec::new();
        let mut acc = vec![0f32; n];
        let mut touched = Vec::new();
        for (i, v) in vectors.iter().enumerate() {
            for &(t, x) in v {
                for &(j, y) in &postings[t as usize] {
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
            row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            row.truncate(self.neighbours);
            triplets.extend(row.into_iter().map(|(j, s)| (i as u32, j, s)));
        }
        ContentModel { params: self.clone(), similar: Csr::from_triplets(n, n, &triplets) }
    }
}

impl ContentModel {
    /// Scores every item by summed similarity to the user's history into `out`.
    pub fn score_history(&self, history: impl Iterator<Item = u32>, out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for i in history {
            for (j, s) in self.similar.row(i as usize) {
                out[j as usize] += s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
