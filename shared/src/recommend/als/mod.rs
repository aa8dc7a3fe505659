//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008) with conjugate
//! gradient solves (Takács, Pilászy & Tikk 2011), `f32`, rows solved in parallel with rayon.
//!
//! Confidence is `c_ui = 1 + alpha * w_ui` for observed pairs (preference 1) and 1 elsewhere
//! (preference 0). Each half-step keeps the other side fixed and, per row, takes a few CG steps
//! from the previous solution on `(YᵀY + Yᵀ(C_u - I)Y + λI) x_u = Yᵀ C_u p_u`, never forming the
//! per-row matrix. Rows are independent, so the result is the same for any thread count and
//! a fixed seed.
//!
//! [`InnerProductIndex`] clusters the item factors so that a large catalogue's top items
//! for a user are found without scoring every item.

mod index;
mod model;
mod params;
mod train;

pub use index::InnerProductIndex;
pub use model::{AlsModel, dot};
pub use params::AlsParams;
