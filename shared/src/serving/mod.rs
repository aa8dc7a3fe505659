//! What the HTTP API serves: the documents each model version publishes ([`documents`]), the
//! [`reader`] that resolves live versions and caches what it read, keyed by version, and the
//! recommendation [`answers`] built from them.

pub mod answers;
pub mod catalog;
pub mod documents;
pub mod freshness;
pub mod reader;
pub mod stock;

pub use answers::{Answer, Exclusions, Recommended, customer_document};
pub use catalog::CatalogView;
pub use documents::*;
pub use freshness::{Behind, NewestSales};
pub use reader::{Reader, ReaderError};
pub use stock::{LatestSnapshot, StockView};
