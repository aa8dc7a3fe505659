//! What a SKU is, wherever one is read: an upload, a history CSV, an inventory count, a request.

/// A SKU as ingest stores it and every reader looks it up: trimmed and upper-cased, so `85123a`
/// in an inventory count, `85123A ` in a history file and `85123A` in a request are one product.
#[must_use]
pub fn normalise_sku(sku: &str) -> String {
    sku.trim().to_uppercase()
}

/// The SKUs a request names, each once in the order first named, normalised, blanks left out:
/// `85123a` and `85123A` are one product, asked for once.
#[must_use]
pub fn distinct_skus<'a>(named: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    named.into_iter().map(normalise_sku).filter(|sku| !sku.is_empty() && seen.insert(sku.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_skus_come_once_in_their_first_order() {
        assert_eq!(distinct_skus(["b", " A", "", "B ", "a"]), ["B", "A"]);
    }

    #[test]
    fn case_and_surrounding_space_do_not_make_another_sku() {
        assert_eq!(normalise_sku(" 85123a\t"), "85123A");
        assert_eq!(normalise_sku("pOsT"), "POST");
        assert_eq!(normalise_sku("84 029"), "84 029", "inner space is part of the code");
    }
}
