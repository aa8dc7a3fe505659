//! Command implementations too large for `cli.rs`, one module per command family.

pub mod alerts;
pub mod export;
pub mod forecast;
pub mod recommend;
pub mod scale;
pub mod segment;
pub mod train;
pub mod uploads;

/// The commands' progress bar of `len` steps, when stderr is a terminal (else `None`: log lines
/// say the progress instead).
pub(crate) fn terminal_bar(len: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

/// `params` with the fields of the JSON object `overrides` merged over it (objects merge
/// recursively, other values replace, `null` clears an optional part), e.g. `{"ease": {"lambda":
/// 500}, "min_coverage": 0.3}`: the object names what it changes, and whatever it leaves out
/// keeps today's default (a file written before a field existed does not silently turn it off);
/// a name the parameters do not have is refused. `overrides` is the object itself when it starts
/// with `{`, else a file holding it. `what` names the parameters in errors.
pub fn with_overrides<T>(params: T, overrides: Option<&std::path::Path>, what: &str) -> anyhow::Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    use anyhow::Context;
    let Some(path) = overrides else { return Ok(params) };
    let (text, source) = match path.to_str().filter(|s| s.trim_start().starts_with('{')) {
        Some(inline) => (inline.to_owned(), "--params".to_owned()),
        None => (
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
    };
    let patch: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{source}: not JSON"))?;
    let mut value = serde_json::to_value(&params)?;
    merge(&mut value, patch, "").map_err(|key| {
        anyhow::anyhow!("{source}: unknown parameter `{key}` (not one of the {what}; misspelt?)")
    })?;
    serde_json::from_value(value).with_context(|| format!("{source}: not {what}"))
}

/// Merges `patch` into `into`; a key that `into`'s object does not have is refused (its dotted
/// path), so a misspelt name cannot silently leave the default in place.
fn merge(into: &mut serde_json::Value, patch: serde_json::Value, at: &str) -> Result<(), String> {
    match (into, patch) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (key, value) in b {
                let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                let slot = a.get_mut(&key).ok_or_else(|| path.clone())?;
                merge(slot, value, &path)?;
            }
            Ok(())
        }
        (slot, value) => {
            *slot = value;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use shopsense::forecast::ForecasterParams;

    use super::*;

    #[test]
    fn a_params_file_changes_what_it_names_and_keeps_the_other_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("params.json");
        std::fs::write(&file, r#"{"origins": 6, "level": {"blend": 0.25}}"#).unwrap();
        let params =
            with_overrides(ForecasterParams::default(), Some(&file), "forecaster parameters").unwrap();
        let default = ForecasterParams::default();
        assert_eq!(params.origins, 6);
        let level = params.level.expect("the level model stays on");
        assert_eq!(level.blend, 0.25);
        assert_eq!(level.boost, default.level.unwrap().boost, "the trees keep their defaults");
        assert_eq!(params.methods, default.methods);

        std::fs::write(&file, r#"{"level": null}"#).unwrap();
        let off = with_overrides(ForecasterParams::default(), Some(&file), "forecaster parameters").unwrap();
        assert!(off.level.is_none(), "null turns it off");
        std::fs::write(&file, r#"{"level": {"blendd": 0.25}}"#).unwrap();
        let err =
            with_overrides(ForecasterParams::default(), Some(&file), "forecaster parameters").unwrap_err();
        assert!(format!("{err:#}").contains("unknown parameter `level.blendd`"), "{err:#}");
        // The README's preset for `bench scale --params` names only parameters that exist.
        std::fs::write(
            &file,
            r#"{"validation": "chronological", "validation_slices": 3, "als": {"half_life_days": 14.0, "log_weights": true, "regularization": 0.05}, "trending": {"half_life_days": 7.0}, "similar_users": {}}"#,
        )
        .unwrap();
        let preset = shopsense::recommend::HybridParams::default();
        with_overrides(preset, Some(&file), "hybrid parameters").unwrap();
        // The object itself instead of a file.
        let inline = std::path::Path::new(r#" {"level": {"blend": 0.75}}"#);
        let params =
            with_overrides(ForecasterParams::default(), Some(inline), "forecaster parameters").unwrap();
        assert_eq!(params.level.unwrap().blend, 0.75);
        let err = with_overrides(
            ForecasterParams::default(),
            Some(std::path::Path::new("{oops")),
            "forecaster parameters",
        )
        .unwrap_err();
        assert!(format!("{err:#}").starts_with("--params: not JSON"), "{err:#}");
        std::fs::write(&file, r#"{"origins": "six"}"#).unwrap();
        let err =
            with_overrides(ForecasterParams::default(), Some(&file), "forecaster parameters").unwrap_err();
        assert!(format!("{err:#}").contains("not forecaster parameters"), "{err:#}");
    }
}
