//! `shopsense ingest` with a folder's column mapping: putting the mapping in place reads the
//! folder's failed uploads again and says which.

use crate::alerts_cli::{ok, run};

#[test]
fn ingesting_a_folders_mapping_reads_its_failed_uploads_again_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("transactions");
    std::fs::create_dir_all(&folder).unwrap();
    let export = folder.join("export.csv");
    std::fs::write(
        &export,
        "Rechnung;Artikel;Beschreibung;Menge;Datum;Preis;Kunde;Land\n\
         536365;85123A;HEART;6;2010-12-01 08:26:00;2,55;17850;United Kingdom\n",
    )
    .unwrap();
    let failed = run(home.path(), &["ingest", export.to_str().unwrap()], &[]);
    assert!(!failed.status.success(), "{}", String::from_utf8_lossy(&failed.stdout));
    let mapping = folder.join("_mapping.toml");
    std::fs::write(
        &mapping,
        "delimiter = \";\"\ndecimal = \",\"\n[columns]\ninvoice = \"Rechnung\"\nstock_code = \"Artikel\"\n\
         description = \"Beschreibung\"\nquantity = \"Menge\"\ninvoice_time = \"Datum\"\nunit_price = \"Preis\"\n\
         customer_id = \"Kunde\"\ncountry = \"Land\"\n",
    )
    .unwrap();
    let said = ok(&run(home.path(), &["ingest", mapping.to_str().unwrap()], &[]));
    assert_eq!(
        said.trim_end(),
        "transactions/_mapping.toml is the folder's column mapping: read again under it: transactions/export.csv (counted)"
    );
    let listed = ok(&run(home.path(), &["uploads", "list", "--json"], &[]));
    assert!(listed.contains("\"rows_accepted\":1"), "{listed}");
}
