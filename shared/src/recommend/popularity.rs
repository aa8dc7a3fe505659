//! Popularity: how many users took each item, each user's interaction decayed by
//! `2^(-age / half_life)` when a half-life is set, so recent demand (a season, a new product)
//! outranks old demand. The fallback for users with no history, and a blend component.

use serde::{Deserialize, Serialize};

use super::data::Interactions;
use super::errors::{RecommendError, Result};

/// Popularity hyper-parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PopularityParams {
    /// Half-life in days (default none: all-time counts).
    pub half_life_days: Option<f32>,
}

/// Item scores, one per item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PopularityModel {
    /// The parameters used.
    pub params: PopularityParams,
    /// Decayed user counts per item.
    pub scores: Vec<f32>,
}

impl PopularityParams {
    /// Counts users per item, decayed by age.
    ///
    /// # Errors
    /// A non-positive half-life.
    pub fn fit(&self, data: &Interactions) -> Result<PopularityModel> {
        if self.half_life_days.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
            return Err(RecommendError::InvalidParams {
                name: "half_life_days",
                reason: "must be > 0".into(),
            });
        }
        let mut scores = vec![0f32; data.n_items()];
        for (&i, &age) in data.times.indices.iter().zip(&data.times.values) {
            scores[i as usize] += self.half_life_days.map_or(1.0, |h| (-age / h).exp2());
        }
        Ok(PopularityModel { params: self.clone(), scores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::data::Record;

    #[test]
    fn recent_demand_outranks_older_larger_demand_with_a_short_half_life() {
        let day = 86_400;
        let mut records = vec![];
        for u in 0..3 {
            records.push(Record { user: format!("u{u}"), item: "old".into(), weight: 1.0, ts: 0 });
        }
        for u in 0..2 {
            records.push(Record { user: format!("v{u}"), item: "new".into(), weight: 1.0, ts: 60 * day });
        }
        let data = Interactions::from_records(&records);
        let (old, new) = (data.items.get("old").unwrap() as usize, data.items.get("new").unwrap() as usize);
        let all_time = PopularityParams { half_life_days: None }.fit(&data).unwrap();
        assert!(all_time.scores[old] > all_time.scores[new]);
        let recent = PopularityParams { half_life_days: Some(14.0) }.fit(&data).unwrap();
        assert!(recent.scores[new] > recent.scores[old]);
    }
}
