//! Syntetos–Boylan demand classes from ADI (mean interval between demands) and CV² (squared
//! coefficient of variation of the non-zero sizes), with the 1.32 and 0.49 cut-offs
//! (Syntetos, Boylan & Croston 2005).

use serde::{Deserialize, Serialize};

/// ADI at or above this is intermittent.
pub const ADI_CUTOFF: f64 = 1.32;
/// CV² at or above this is erratic.
pub const CV2_CUTOFF: f64 = 0.49;

/// A demand pattern class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandClass {
    /// Regular demand of steady size.
    Smooth,
    /// Regular demand of varying size.
    Erratic,
    /// Sporadic demand of steady size.
    Intermittent,
    /// Sporadic demand of varying size.
    Lumpy,
    /// No demand in the history.
    NoDemand,
}

impl DemandClass {
    /// Every class, for reports.
    pub const ALL: [Self; 5] = [Self::Smooth, Self::Erratic, Self::Intermittent, Self::Lumpy, Self::NoDemand];

    /// Classifies a series of units per open day.
    #[must_use]
    pub fn of(y: &[f64]) -> Self {
        let sizes: Vec<f64> = y.iter().copied().filter(|&v| v > 0.0).collect();
        if sizes.is_empty() {
            return Self::NoDemand;
        }
        let adi = y.len() as f64 / sizes.len() as f64;
        let mean = sizes.iter().sum::<f64>() / sizes.len() as f64;
        let variance = sizes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / sizes.len() as f64;
        let cv2 = variance / (mean * mean);
        match (adi >= ADI_CUTOFF, cv2 >= CV2_CUTOFF) {
            (false, false) => Self::Smooth,
            (false, true) => Self::Erratic,
            (true, false) => Self::Intermittent,
            (true, true) => Self::Lumpy,
        }
    }

    /// The class name as serialised.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smooth => "smooth",
            Self::Erratic => "erratic",
            Self::Intermittent => "intermittent",
            Self::Lumpy => "lumpy",
            Self::NoDemand => "no_demand",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_classes_by_hand() {
        assert_eq!(DemandClass::of(&[5.0, 5.0, 6.0, 5.0]), DemandClass::Smooth);
        // sizes 1 and 9: mean 5, variance 16, cv2 0.64.
        assert_eq!(DemandClass::of(&[1.0, 9.0, 1.0, 9.0]), DemandClass::Erratic);
        // ADI 2.
        assert_eq!(DemandClass::of(&[5.0, 0.0, 5.0, 0.0]), DemandClass::Intermittent);
        assert_eq!(DemandClass::of(&[1.0, 0.0, 9.0, 0.0]), DemandClass::Lumpy);
        assert_eq!(DemandClass::of(&[0.0, 0.0]), DemandClass::NoDemand);
    }
}
