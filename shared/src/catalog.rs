//! What the shop's catalogue uploads say of its products beyond their sales: pack sizes (orders
//! are rounded up to them) and discontinued lines (never reordered, never recommended).
//!
//! Read from the silver catalogue tables (`catalog/*.parquet`) in upload order, a later upload
//! overriding an earlier one SKU by SKU: a line listed again with `discontinued` false is on
//! sale again, and a cell left empty (or a file without the column) changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use crate::sku::normalise_sku;
use crate::store::{BlobMeta, BlobStore, StoreError};

/// Where the catalogue tables live in silver.
pub const CATALOG_PREFIX: &str = "catalog/";

/// The catalogue's facts, by normalised SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Units per pack (at least 1).
    pub pack_sizes: BTreeMap<String, u32>,
    /// Lines the shop no longer sells.
    pub discontinued: BTreeSet<String>,
}

impl Catalog {
    /// The catalogue the tables in `silver` hold now.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn read(silver: &dyn BlobStore) -> Result<Self, StoreError> {
        Self::read_listed(silver, &tables(silver).await?).await
    }

    /// The catalogue `listed` (from [`tables`]) holds. A table that cannot be read is passed over
    /// with a warning: one damaged upload must not stop every answer and alert that reads the
    /// catalogue.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn read_listed(silver: &dyn BlobStore, listed: &[BlobMeta]) -> Result<Self, StoreError> {
        let mut catalog = Self::default();
        for table in listed {
            let Some(blob) = silver.get(&table.path).await? else { continue };
            // `apply` changes nothing when it fails.
            let applied = crate::features::read_parquet(&blob.body)
                .map_err(|e| e.to_string())
                .and_then(|frame| catalog.apply(&frame).map_err(|e| e.to_string()));
            if let Err(message) = applied {
                tracing::warn!(
                    table = table.path,
                    error = message,
                    "catalogue table unreadable: passed over"
                );
            }
        }
        Ok(catalog)
    }

    /// Applies one upload's table over what the earlier ones said.
    ///
    /// # Errors
    /// When a column has an unexpected type; nothing is applied then.
    pub fn apply(&mut self, frame: &DataFrame) -> PolarsResult<()> {
        let Ok(skus) = frame.column("stock_code") else { return Ok(()) };
        let skus = skus.str()?;
        // Every column typed before anything changes: a table applies whole or not at all.
        let packs = frame.column("pack_size").ok().map(|c| c.cast(&DataType::Int64)).transpose()?;
        let packs = packs.as_ref().map(Column::i64).transpose()?;
        let flags = frame.column("discontinued").ok().map(Column::bool).transpose()?;
        if let Some(packs) = packs {
            for (sku, pack) in skus.iter().zip(packs.iter()) {
                if let (Some(sku), Some(pack)) = (sku, pack)
                    && let Ok(pack) = u32::try_from(pack)
                    && pack > 0
                {
                    self.pack_sizes.insert(normalise_sku(sku), pack);
                }
            }
        }
        if let Some(flags) = flags {
            for (sku, flag) in skus.iter().zip(flags.iter()) {
                match (sku, flag) {
                    (Some(sku), Some(true)) => {
                        self.discontinued.insert(normalise_sku(sku));
                    }
                    (Some(sku), Some(false)) => {
                        self.discontinued.remove(&normalise_sku(sku));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The catalogue tables in `silver`, oldest upload first.
///
/// # Errors
/// When the store fails.
pub async fn tables(silver: &dyn BlobStore) -> Result<Vec<BlobMeta>, StoreError> {
    let mut tables = silver.list(CATALOG_PREFIX).await?;
    tables.retain(|b| b.path.ends_with(".parquet"));
    tables.sort_by(crate::bronze::upload_order);
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, Option<i64>, Option<bool>)]) -> DataFrame {
        df!(
            "stock_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "pack_size" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "discontinued" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn a_later_upload_overrides_an_earlier_one_sku_by_sku() {
        let mut catalog = Catalog::default();
        catalog.apply(&table(&[("85123a ", Some(6), Some(true)), ("22423", Some(12), Some(true))])).unwrap();
        assert_eq!(catalog.discontinued, ["22423".to_owned(), "85123A".to_owned()].into());
        // 22423 is on sale again; 85123A's empty cell says nothing, so it stays discontinued.
        catalog.apply(&table(&[("85123A", None, None), ("22423", Some(24), Some(false))])).unwrap();
        assert_eq!(catalog.discontinued, ["85123A".to_owned()].into());
        assert_eq!(catalog.pack_sizes, [("85123A".to_owned(), 6), ("22423".to_owned(), 24)].into());
    }

    #[test]
    fn a_table_without_the_columns_changes_nothing() {
        let mut catalog = Catalog::default();
        catalog.apply(&table(&[("85123A", Some(6), Some(true))])).unwrap();
        let before = catalog.clone();
        catalog.apply(&df!("stock_code" => ["85123A"], "description" => ["heart"]).unwrap()).unwrap();
        assert_eq!(catalog, before);
    }
}
