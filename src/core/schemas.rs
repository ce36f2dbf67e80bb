//! JSON Schema checks used for structured output and tool arguments.

use serde_json::Value;

/// Why a value does not satisfy a schema, or why the schema itself is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid JSON Schema: {0}")]
    InvalidSchema(String),
    #[error("{0}")]
    Violation(String),
}

/// "a string", "an array", … : what a JSON value is, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Check that `schema` is a usable JSON Schema.
pub fn check_schema(schema: &Value) -> Result<(), SchemaError> {
    jsonschema::validator_for(schema).map(|_| ()).map_err(|e| SchemaError::InvalidSchema(e.to_string()))
}

/// Validate `instance` against `schema`; the error lists up to five violations,
/// each with the JSON pointer of the offending value.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), SchemaError> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| SchemaError::InvalidSchema(e.to_string()))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .take(5)
        .map(|e| {
            let at = e.instance_path.to_string();
            format!("at `{}`: {e}", if at.is_empty() { "/" } else { at.as_str() })
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(SchemaError::Violation(errors.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_pointer_of_violation() {
        let schema = json!({"type":"object","properties":{"n":{"type":"number"}},"required":["n"]});
        assert!(validate(&schema, &json!({"n": 1.5})).is_ok());
        let err = validate(&schema, &json!({"n": "x"})).unwrap_err().to_string();
        assert!(err.contains("/n"), "{err}");
        assert!(matches!(check_schema(&json!({"type": 5})), Err(SchemaError::InvalidSchema(_))));
    }
}
