//! JSON values as error messages name them.

use serde_json::Value;

/// What kind of JSON value `value` is, as a message names it: "an array", "a string", "null".
#[must_use]
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
