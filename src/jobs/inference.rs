//! [`InferenceJob`]: batch inference over a JSONL file of prompts.
//!
//! Input lines are `{"id": …, "prompt": "…"}` or `{"id": …, "messages": [{"role":
//! "user", "content": "…"}, …]}` (blank lines are skipped). Every line is checked
//! before the first request; a bad line is an error naming the file and line.
//! Answers are written in input order as `{"id", "text", "json"?, "finish_reason",
//! "usage", "model"}` lines, atomically, once every prompt is answered.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::base::{Job, JobContext, JobError, read_schema, write_lines_atomically};
use crate::llm::{ChatModel, ChatRequest, FinishReason, Message, Usage};
use crate::settings::InferenceJob;

/// One line of the input file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptLine {
    id: Value,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Message>>,
}

/// One line of the output file.
#[derive(Serialize)]
struct Answer<'a> {
    id: &'a Value,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    json: Option<Value>,
    finish_reason: FinishReason,
    usage: Usage,
    model: &'a str,
}

/// One prompt to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Line number in the input file (1-based).
    pub line: usize,
    pub id: Value,
    pub messages: Vec<Message>,
}

/// Read and check every line of a prompts file; `system` is prepended to `prompt` lines.
pub fn read_prompts(path: &Path, system: Option<&str>) -> Result<Vec<Prompt>, JobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| JobError::Read { path: path.to_path_buf(), source })?;
    let mut prompts = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| JobError::InputLine { path: path.to_path_buf(), line, reason };
        let parsed: PromptLine = serde_json::from_str(raw).map_err(|e| {
            bad(format!(
                "{e} (expected {{\"id\": …, \"prompt\": \"…\"}} or {{\"id\": …, \"messages\": [{{\"role\": …, \"content\": …}}]}})"
            ))
        })?;
        let messages = match (parsed.prompt, parsed.messages) {
            (Some(prompt), None) => system
                .map(Message::system)
                .into_iter()
                .chain(std::iter::once(Message::user(prompt)))
                .collect(),
            (None, Some(messages)) if !messages.is_empty() => messages,
            (None, Some(_)) => return Err(bad("`messages` is empty".into())),
            (Some(_), Some(_)) => return Err(bad("give either `prompt` or `messages`, not both".into())),
            (None, None) => return Err(bad("missing `prompt` (or `messages`)".into())),
        };
        prompts.push(Prompt { line, id: parsed.id, messages });
    }
    Ok(prompts)
}

#[async_trait]
impl Job for InferenceJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let schema = self.schema.as_deref().map(read_schema).transpose()?;
        let prompts = read_prompts(&self.input, self.system.as_deref())?;
        tracing::info!(
            prompts = prompts.len(),
            input = %self.input.display(),
            concurrency = self.concurrency,
            "batch inference"
        );
        let model = ctx.chat_model(&self.profile).await?;
        let lines = self.answer_all(model, prompts, schema).await?;
        write_lines_atomically(&self.output, &lines)?;
        tracing::info!(answers = lines.len(), output = %self.output.display(), "answers written");
        Ok(())
    }
}

impl InferenceJob {
    /// Answer every prompt (at most `concurrency` at once); output lines in input order.
    async fn answer_all(
        &self,
        model: Arc<dyn ChatModel>,
        prompts: Vec<Prompt>,
        schema: Option<(String, Value)>,
    ) -> Result<Vec<String>, JobError> {
        let schema = schema.as_ref();
        let requests = prompts.into_iter().map(|prompt| {
            let model = model.clone();
            let mut request = ChatRequest::new(prompt.messages);
            if let Some(t) = self.temperature {
                request = request.temperature(t);
            }
            if let Some(n) = self.max_tokens {
                request = request.max_tokens(n);
            }
            if let Some((name, schema)) = schema {
                request = request.with_schema(name.clone(), schema.clone());
            }
            let (id, line) = (prompt.id, prompt.line);
            async move {
                let response = model.chat(request).await.map_err(|source| JobError::Request {
                    id: id.to_string(),
                    line,
                    path: self.input.clone(),
                    source: Box::new(source),
                })?;
                // The provider validated the answer against the schema already.
                let json = match schema {
                    Some(_) => Some(response.json().map_err(|e| JobError::Answer {
                        path: self.schema.clone().unwrap_or_default(),
                        reason: format!("not JSON: {e}"),
                    })?),
                    None => None,
                };
                let answer = Answer {
                    id: &id,
                    text: &response.text,
                    json,
                    finish_reason: response.finish_reason,
                    usage: response.usage,
                    model: &response.model,
                };
                serde_json::to_string(&answer).map_err(|e| JobError::Write {
                    path: self.output.clone(),
                    source: std::io::Error::other(e),
                })
            }
        });
        futures::stream::iter(requests).buffered(self.concurrency.max(1)).try_collect().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::chat::tests::EchoModel;
    use std::path::PathBuf;

    fn job(input: PathBuf, output: PathBuf) -> InferenceJob {
        InferenceJob {
            profile: "local".into(),
            input,
            output,
            schema: None,
            system: Some("sys".into()),
            concurrency: 3,
            max_tokens: None,
            temperature: None,
        }
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "{\"id\": 1, \"prompt\": \"a\"}\n\n{\"id\": 2, \"promt\": \"b\"}\n")
            .expect("write");
        let err = read_prompts(&input, None).expect_err("bad line 3");
        assert!(matches!(err, JobError::InputLine { line: 3, .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("in.jsonl") && message.contains("line 3") && message.contains("promt"),
            "{message}"
        );
        std::fs::write(&input, "{\"id\": 1}\n").expect("write");
        assert!(matches!(read_prompts(&input, None), Err(JobError::InputLine { line: 1, .. })));
    }

    #[tokio::test]
    async fn answers_keep_input_order_and_both_line_shapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in.jsonl");
        let mut text = String::new();
        for i in 0..10 {
            text.push_str(&format!("{{\"id\": {i}, \"prompt\": \"p{i}\"}}\n"));
        }
        text.push_str("{\"id\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
        std::fs::write(&input, text).expect("write");
        let job = job(input.clone(), dir.path().join("out.jsonl"));
        let prompts = read_prompts(&input, job.system.as_deref()).expect("valid input");
        let lines = job.answer_all(Arc::new(EchoModel), prompts, None).await.expect("answers");
        assert_eq!(lines.len(), 11);
        for (i, line) in lines.iter().take(10).enumerate() {
            let record: Value = serde_json::from_str(line).expect("json line");
            assert_eq!(record["id"], i);
            // The system prompt was prepended: 2 messages.
            assert_eq!(record["text"], format!("2: p{i}"));
            assert_eq!(record["finish_reason"], "stop");
        }
        let last: Value = serde_json::from_str(&lines[10]).expect("json line");
        assert_eq!((last["id"].as_str(), last["text"].as_str()), (Some("m"), Some("1: hi")));
    }

    #[tokio::test]
    async fn a_failed_request_names_its_id_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in.jsonl");
        std::fs::write(
            &input,
            "{\"id\": \"a\", \"prompt\": \"ok\"}\n{\"id\": \"b\", \"prompt\": \"overflow\"}\n",
        )
        .expect("write");
        let job = job(input.clone(), dir.path().join("out.jsonl"));
        let prompts = read_prompts(&input, None).expect("valid input");
        let err = job.answer_all(Arc::new(EchoModel), prompts, None).await.expect_err("overflow");
        assert!(matches!(err, JobError::Request { line: 2, .. }), "{err}");
    }

    #[tokio::test]
    async fn schema_answers_carry_their_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "{\"id\": 1, \"prompt\": \"p\"}\n").expect("write");
        let job = job(input.clone(), dir.path().join("out.jsonl"));
        let prompts = read_prompts(&input, None).expect("valid input");
        let schema = ("count".to_string(), serde_json::json!({"type": "object"}));
        let lines = job.answer_all(Arc::new(EchoModel), prompts, Some(schema)).await.expect("answers");
        let record: Value = serde_json::from_str(&lines[0]).expect("json line");
        assert_eq!(record["json"], serde_json::json!({"n": 1}));
        assert_eq!(record["text"], "{\"n\": 1}");
    }
}
