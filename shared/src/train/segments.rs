//! Training the customer segments for serving: RFM at the end of the data, k-means with the
//! silhouette sweep ([`crate::segments`]). The gate's number is the chosen k's silhouette.

use serde_json::{Value, json};

use super::TrainError;
use super::inputs::TrainingData;
use crate::registry::ModelKind;
use crate::segments::{RfmTable, SegmentModel, SegmentParams, last_day};
use crate::serving::{CustomerSegment, SHOP_PARTITION, SegmentsSummary, customer_partition, doc_id};
use crate::store::Document;

/// What the segments kind stores in `model.bin`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SegmentsArtifact {
    /// The RFM table the model was fitted on.
    pub rfm: RfmTable,
    /// The fitted segmentation.
    pub model: SegmentModel,
}

/// Fits the segmentation. Returns it with its metrics.
///
/// # Errors
/// When there are too few customers or the table breaks the contract.
pub fn train(data: &TrainingData, params: &SegmentParams) -> Result<(SegmentsArtifact, Value), TrainError> {
    let rfm = RfmTable::from_inputs(&data.rfm_inputs, None, last_day(&data.daily_demand)?)?;
    let model = params.fit(&rfm)?;
    let metrics = json!({
        "customers": rfm.len(),
        "k": model.k,
        "silhouette": model.silhouette,
        "sizes": model.segments.iter().map(|s| s.size).collect::<Vec<_>>(),
        "labels": model.segments.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
    });
    Ok((SegmentsArtifact { rfm, model }, metrics))
}

impl SegmentsArtifact {
    /// The serving documents under `version`.
    ///
    /// # Errors
    /// When a document cannot be built.
    pub fn documents(&self, version: &str) -> Result<Vec<Document>, TrainError> {
        let id = doc_id(ModelKind::Segments, version);
        let scores = self.rfm.scores();
        let mut docs = Vec::with_capacity(self.rfm.len() + 1);
        for (c, customer) in self.rfm.customers.iter().enumerate() {
            let segment = self.model.assignments[c];
            let body = CustomerSegment {
                segment,
                label: self.model.segments[segment].label.clone(),
                recency_days: self.rfm.recency_days[c],
                frequency: self.rfm.frequency[c],
                monetary: self.rfm.monetary[c],
                rfm_scores: scores[c],
            };
            docs.push(Document::new(customer_partition(customer), &id, &body)?);
        }
        let summary = SegmentsSummary {
            k: self.model.k,
            silhouette: self.model.silhouette,
            segments: self.model.segments.clone(),
            reference: self.rfm.reference,
        };
        docs.push(Document::new(SHOP_PARTITION, &id, &summary)?);
        Ok(docs)
    }
}
