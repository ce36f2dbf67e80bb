//! Tool calls and structured output for models without native support (local GGUF
//! models): the request is turned into one JSON Schema that grammar-constrained
//! decoding enforces, and the output is parsed back and validated.

use serde_json::{Value, json};

use super::{LlmError, Message, Role, ToolCall, ToolChoice, ToolSpec};
use crate::core::schemas;

/// The schema of a model's reply when tools are offered: either
/// `{"tool": NAME, "arguments": {...}}` for one of the allowed tools, or
/// `{"answer": "..."}` when the choice allows a direct answer.
pub fn action_schema(tools: &[ToolSpec], choice: &ToolChoice) -> Result<Value, LlmError> {
    let allowed: Vec<&ToolSpec> = match choice {
        ToolChoice::None => Vec::new(),
        ToolChoice::Named(name) => vec![named_tool(tools, name)?],
        ToolChoice::Auto | ToolChoice::Required => tools.iter().collect(),
    };
    let mut branches: Vec<Value> = allowed
        .iter()
        .map(|t| {
            json!({
                "type": "object",
                "properties": {"tool": {"const": t.name}, "arguments": t.parameters},
                "required": ["tool", "arguments"],
                "additionalProperties": false
            })
        })
        .collect();
    if matches!(choice, ToolChoice::Auto | ToolChoice::None) || allowed.is_empty() {
        branches.push(json!({
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": false
        }));
    }
    Ok(if branches.len() == 1 { branches.remove(0) } else { json!({"anyOf": branches}) })
}

/// A copy of `schema` in which every free-form string (no `maxLength`, `minLength`,
/// `enum`, `const`, `pattern` or `format`) is limited to `max_len` characters. Compiled into a
/// grammar, this forces a small model that loops inside a string to close it, so a
/// bounded token budget always ends in complete JSON. Validation still uses the
/// caller's schema.
pub fn bound_strings(schema: &Value, max_len: u64) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len() + 1);
            for (key, value) in map {
                let bounded = match key.as_str() {
                    // Keywords whose values are literal data, not subschemas.
                    "enum" | "const" | "default" | "examples" | "required" => value.clone(),
                    _ => bound_strings(value, max_len),
                };
                out.insert(key.clone(), bounded);
            }
            let is_string = map.get("type").and_then(Value::as_str) == Some("string");
            let constrained = ["maxLength", "minLength", "enum", "const", "pattern", "format"]
                .iter()
                .any(|k| map.contains_key(*k));
            if is_string && !constrained {
                out.insert("maxLength".to_string(), Value::from(max_len));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| bound_strings(v, max_len)).collect()),
        other => other.clone(),
    }
}

/// The system-prompt text that tells a model how to call tools.
pub fn tools_prompt(tools: &[ToolSpec], choice: &ToolChoice) -> String {
    let mut text = String::from(
        "You can use tools. Reply with one JSON object only.\n\
         To call a tool: {\"tool\": \"<tool name>\", \"arguments\": {<arguments>}}\n",
    );
    if matches!(choice, ToolChoice::Auto) {
        text.push_str("To answer the user directly: {\"answer\": \"<your answer>\"}\n");
    }
    text.push_str("Tools:\n");
    for t in tools {
        text.push_str(&format!("- {}: {} Arguments schema: {}\n", t.name, t.description, t.parameters));
    }
    text
}

/// What a model replied in tool mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Answer(String),
    Call(ToolCall),
}

/// Parse and validate a reply produced under [`action_schema`].
pub fn parse_action(text: &str, tools: &[ToolSpec], call_id: String) -> Result<Action, LlmError> {
    let value: Value = serde_json::from_str(text.trim()).map_err(|e| LlmError::SchemaViolation {
        schema: "tool call".into(),
        reason: e.to_string(),
        output: text.to_string(),
    })?;
    if let Some(answer) = value.get("answer").and_then(Value::as_str) {
        return Ok(Action::Answer(answer.to_string()));
    }
    let name = value.get("tool").and_then(Value::as_str).ok_or_else(|| LlmError::SchemaViolation {
        schema: "tool call".into(),
        reason: "neither `tool` nor `answer` present".into(),
        output: text.to_string(),
    })?;
    let arguments = value.get("arguments").cloned().unwrap_or(Value::Null);
    validate_call(tools, name, &arguments)?;
    Ok(Action::Call(ToolCall { id: call_id, name: name.to_string(), arguments }))
}

/// Rewrite a conversation with tool traffic into plain roles for a chat template
/// that knows only system / user / assistant: an assistant tool call becomes the
/// JSON the model would have written, a tool result becomes a user message.
pub fn flatten_tool_messages(messages: &[Message]) -> Vec<(Role, String)> {
    messages
        .iter()
        .map(|m| match m.role {
            Role::Assistant if !m.tool_calls.is_empty() => {
                let calls: Vec<String> = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"tool": c.name, "arguments": c.arguments}).to_string())
                    .collect();
                (Role::Assistant, calls.join("\n"))
            }
            Role::Tool => {
                let id = m.tool_call_id.as_deref().unwrap_or("?");
                (Role::User, format!("Tool result ({id}): {}", m.content))
            }
            role => (role, m.content.clone()),
        })
        .collect()
}

/// The system-prompt text that asks for JSON matching `schema` when nothing enforces it
/// (or to tell the model what a grammar will enforce anyway).
pub fn schema_prompt(schema: &Value) -> String {
    format!("Reply with one JSON value only, matching this JSON Schema: {schema}")
}

/// `messages` with `extra` appended to the leading system message (after a blank line),
/// or with a system message holding `extra` put in front when there is none.
pub fn with_system(messages: &[Message], extra: &str) -> Vec<Message> {
    let mut out = messages.to_vec();
    match out.first_mut() {
        Some(first) if first.role == Role::System => {
            if !first.content.is_empty() {
                first.content.push_str("\n\n");
            }
            first.content.push_str(extra);
        }
        _ => out.insert(0, Message::system(extra)),
    }
    out
}

/// The tool a `tool_choice` names, or [`LlmError::InvalidRequest`] when it is not
/// among `tools` (an error in the request, found before anything runs).
pub fn named_tool<'a>(tools: &'a [ToolSpec], name: &str) -> Result<&'a ToolSpec, LlmError> {
    tools.iter().find(|t| t.name == name).ok_or_else(|| {
        LlmError::InvalidRequest(format!("tool_choice names `{name}`, which is not among the tools"))
    })
}

/// Check a tool call a model made: the tool must be among `tools` and `arguments` must
/// satisfy its parameter schema; otherwise [`LlmError::InvalidToolCall`].
pub fn validate_call<'a>(
    tools: &'a [ToolSpec],
    name: &str,
    arguments: &Value,
) -> Result<&'a ToolSpec, LlmError> {
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| LlmError::InvalidToolCall { tool: name.to_string(), reason: "no such tool".into() })?;
    schemas::validate(&tool.parameters, arguments)
        .map_err(|e| LlmError::InvalidToolCall { tool: name.to_string(), reason: e.to_string() })?;
    Ok(tool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Quote {
        ticker: String,
    }

    fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec::of::<Quote>("get_quote", "Latest price of a ticker.")]
    }

    #[test]
    fn schema_branches_follow_choice() {
        let auto = action_schema(&tools(), &ToolChoice::Auto).unwrap();
        assert_eq!(auto["anyOf"].as_array().unwrap().len(), 2);
        let req = action_schema(&tools(), &ToolChoice::Required).unwrap();
        assert_eq!(req["properties"]["tool"]["const"], "get_quote");
        assert!(action_schema(&tools(), &ToolChoice::Named("nope".into())).is_err());
    }

    #[test]
    fn bounds_only_free_strings() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "code": {"type": "string", "pattern": "^[A-Z]+$"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "properties": {"type": "string"}
            },
            "required": ["name"]
        });
        let bounded = bound_strings(&schema, 50);
        assert_eq!(bounded["properties"]["name"]["maxLength"], 50);
        assert_eq!(bounded["properties"]["tags"]["items"]["maxLength"], 50);
        assert_eq!(bounded["properties"]["properties"]["maxLength"], 50);
        assert!(bounded["properties"]["code"].get("maxLength").is_none());
        assert!(bounded["properties"]["kind"].get("maxLength").is_none());
        assert_eq!(bounded["required"], json!(["name"]));
    }

    #[test]
    fn parses_and_validates_calls() {
        let call =
            parse_action(r#"{"tool":"get_quote","arguments":{"ticker":"AAPL"}}"#, &tools(), "c1".into());
        match call.unwrap() {
            Action::Call(c) => assert_eq!(c.parse::<Quote>().unwrap().ticker, "AAPL"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_action(r#"{"answer":"hi"}"#, &tools(), "c".into()).unwrap(),
            Action::Answer("hi".into())
        );
        let bad = parse_action(r#"{"tool":"get_quote","arguments":{"ticker":5}}"#, &tools(), "c".into());
        assert!(matches!(bad, Err(LlmError::InvalidToolCall { .. })));
        assert!(parse_action("not json", &tools(), "c".into()).is_err());
    }
}
