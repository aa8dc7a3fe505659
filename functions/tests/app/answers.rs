//! The README's answers, route by route ("Answers, route by route"), held to what the routes
//! return: every field an answer has is in its route's example, and every field an example shows
//! is in some answer of the demo flow (or named here as one the flow never brings about).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::crate_dir;

/// The fields an answer holds, as paths: `answer.items[].sku`.
fn paths(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, at: &str, into: &mut BTreeSet<String>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    let path = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
                    into.insert(path.clone());
                    walk(field, &path, into);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{at}[]"), into);
                }
            }
            _ => {}
        }
    }
    let mut into = BTreeSet::new();
    walk(value, "", &mut into);
    into
}

/// The README's examples and the fields the flow's answers showed.
pub struct Documented {
    examples: BTreeMap<String, BTreeSet<String>>,
    seen: BTreeMap<String, BTreeSet<String>>,
}

impl Documented {
    /// Each ```json block after a `<!-- answer: NAME -->` line of the README.
    pub fn from_readme() -> Self {
        let readme = std::fs::read_to_string(crate_dir().join("../README.md")).unwrap();
        let mut examples = BTreeMap::new();
        let mut lines = readme.lines();
        while let Some(line) = lines.next() {
            let Some(name) = line.strip_prefix("<!-- answer: ").and_then(|l| l.strip_suffix(" -->")) else {
                continue;
            };
            assert_eq!(lines.next(), Some("```json"), "the example of {name} opens a json block");
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let example: Value = serde_json::from_str(&block.join("\n"))
                .unwrap_or_else(|e| panic!("the README's example of {name} is not JSON: {e}"));
            assert!(examples.insert(name.to_owned(), paths(&example)).is_none(), "{name} shown twice");
        }
        Self { examples, seen: BTreeMap::new() }
    }

    /// Holds one answer of route `name` to its example.
    pub fn check(&mut self, name: &str, answer: &Value) {
        let example = self.examples.get(name).unwrap_or_else(|| panic!("the README shows no {name} answer"));
        let fields = paths(answer);
        let undocumented: Vec<&String> = fields.difference(example).collect();
        assert!(
            undocumented.is_empty(),
            "{name} answers fields its README example lacks: {undocumented:?}\n{answer}"
        );
        self.seen.entry(name.to_owned()).or_default().extend(fields);
    }

    /// Every example's fields were in some answer, but those named as ones the flow never shows.
    pub fn all_shown(&self, never_in_the_flow: &[&str]) {
        for (name, example) in &self.examples {
            let seen = self.seen.get(name).unwrap_or_else(|| panic!("no {name} answer was checked"));
            let unseen: Vec<&String> = example
                .iter()
                .filter(|p| {
                    !seen.contains(*p) && !never_in_the_flow.contains(&format!("{name}: {p}").as_str())
                })
                .collect();
            assert!(unseen.is_empty(), "the README's {name} example shows fields no answer had: {unseen:?}");
        }
    }
}
