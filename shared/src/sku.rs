//! What a SKU is, wherever one is read: an upload, a history CSV, an inventory count, a request.

/// A SKU as ingest stores it and every reader looks it up: trimmed and upper-cased, so `85123a`
/// in an inventory count, `85123A ` in a history file and `85123A` in a request are one product.
#[must_use]
pub fn normalise_sku(sku: &str) -> String {
    sku.trim().to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_surrounding_space_do_not_make_another_sku() {
        assert_eq!(normalise_sku(" 85123a\t"), "85123A");
        assert_eq!(normalise_sku("pOsT"), "POST");
        assert_eq!(normalise_sku("84 029"), "84 029", "inner space is part of the code");
    }
}
