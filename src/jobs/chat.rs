//! [`ChatJob`]: one answer streamed to stdout, or a multi-turn conversation on stdin.
//! With a schema the answer is not streamed: the provider checks (and, without
//! native enforcement, corrects) the whole answer first, and only its JSON is printed.

use std::io::{IsTerminal, Write};

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::base::{Job, JobContext, JobError, read_schema};
use crate::llm::{ChatEvent, ChatModel, ChatRequest, ChatResponse, LlmError, Message};
use crate::settings::ChatJob;

/// Ends a conversation.
pub const EXIT_COMMAND: &str = "/exit";

/// A schema file, read.
struct Schema {
    name: String,
    schema: Value,
}

#[async_trait]
impl Job for ChatJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let schema = self.read_schema()?;
        let model = ctx.chat_model(&self.profile).await?;
        let mut out = std::io::stdout();
        match &self.message {
            Some(message) => {
                let mut messages = self.opening();
                messages.push(Message::user(message.clone()));
                self.answer(model.as_ref(), messages, schema.as_ref(), &mut out).await?;
                Ok(())
            }
            None => {
                let interactive = std::io::stdin().is_terminal();
                let input = tokio::io::BufReader::new(tokio::io::stdin());
                self.converse(model.as_ref(), schema.as_ref(), input, &mut out, interactive).await
            }
        }
    }
}

impl ChatJob {
    fn read_schema(&self) -> Result<Option<Schema>, JobError> {
        self.schema
            .as_ref()
            .map(|path| read_schema(path).map(|(name, schema)| Schema { name, schema }))
            .transpose()
    }

    /// The system prompt, if any.
    fn opening(&self) -> Vec<Message> {
        self.system.iter().map(|s| Message::system(s.clone())).collect()
    }

    fn request(&self, messages: Vec<Message>, schema: Option<&Schema>) -> ChatRequest {
        let mut request = ChatRequest::new(messages);
        if let Some(t) = self.temperature {
            request = request.temperature(t);
        }
        if let Some(n) = self.max_tokens {
            request = request.max_tokens(n);
        }
        if let Some(schema) = schema {
            request = request.with_schema(schema.name.clone(), schema.schema.clone());
        }
        request
    }

    /// Answer `messages`, writing the answer (token by token when streaming) and a
    /// final newline to `out`. An answer to a schema is never streamed: the provider
    /// validates the whole answer (and corrects it where the server cannot enforce the
    /// schema), so only the final JSON reaches `out`.
    async fn answer(
        &self,
        model: &dyn ChatModel,
        messages: Vec<Message>,
        schema: Option<&Schema>,
        out: &mut (dyn Write + Send),
    ) -> Result<ChatResponse, JobError> {
        let request = self.request(messages, schema);
        let response = if self.stream && schema.is_none() {
            stream_to(model, request, out).await?
        } else {
            let response = model.chat(request).await?;
            out.write_all(response.text.as_bytes()).map_err(JobError::Output)?;
            response
        };
        writeln!(out).map_err(JobError::Output)?;
        out.flush().map_err(JobError::Output)?;
        tracing::info!(
            model = %response.model,
            prompt_tokens = response.usage.prompt_tokens,
            completion_tokens = response.usage.completion_tokens,
            finish_reason = ?response.finish_reason,
            "answered"
        );
        Ok(response)
    }

    /// A conversation: each line of `input` is a user turn answered with the whole
    /// history; `/exit` or the end of input ends it. A turn the model cannot answer
    /// (e.g. the history outgrew the context window) is reported and dropped.
    async fn converse<R: AsyncBufRead + Unpin + Send>(
        &self,
        model: &dyn ChatModel,
        schema: Option<&Schema>,
        input: R,
        out: &mut (dyn Write + Send),
        interactive: bool,
    ) -> Result<(), JobError> {
        let mut history = self.opening();
        let mut lines = input.lines();
        loop {
            if interactive {
                eprint!("> ");
            }
            let Some(line) = lines.next_line().await.map_err(JobError::Input)? else {
                break;
            };
            let line = line.trim();
            if line == EXIT_COMMAND {
                break;
            }
            if line.is_empty() {
                continue;
            }
            history.push(Message::user(line));
            match self.answer(model, history.clone(), schema, out).await {
                Ok(response) => history.push(Message::assistant(response.text)),
                Err(error @ JobError::Llm(_)) => {
                    tracing::error!("{error}");
                    history.pop();
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Stream the answer to `request` to `out`, delta by delta. After an error in the
/// middle of the answer a newline ends the partial answer, so that the error (on
/// stderr) and the next prompt start on a line of their own.
async fn stream_to(
    model: &dyn ChatModel,
    request: ChatRequest,
    out: &mut (dyn Write + Send),
) -> Result<ChatResponse, JobError> {
    let mut stream = model.chat_stream(request).await?;
    let mut partial = false;
    let result = async {
        while let Some(event) = stream.next().await {
            match event? {
                ChatEvent::Delta { text } => {
                    out.write_all(text.as_bytes()).map_err(JobError::Output)?;
                    out.flush().map_err(JobError::Output)?;
                    partial |= !text.is_empty();
                }
                ChatEvent::Done(response) => return Ok(response),
            }
        }
        Err(JobError::from(LlmError::EngineStopped))
    }
    .await;
    if result.is_err() && partial {
        // Best effort: the stream's error is the one to report.
        let _ = writeln!(out).and_then(|()| out.flush());
    }
    result
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::llm::{ChatStream, FinishReason, Role, Usage};

    /// Answers "<n messages>: <last user message>" in two deltas; "overflow" fails
    /// before the first delta, "break" after one. With a schema it answers
    /// `{"n": <n messages>}`, streamed in a code fence as a server without native
    /// schema support might.
    pub(crate) struct EchoModel;

    #[async_trait]
    impl ChatModel for EchoModel {
        fn name(&self) -> &str {
            "echo"
        }
        async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
            let last =
                request.messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone());
            let last = last.unwrap_or_default();
            if last == "overflow" {
                return Err(LlmError::ContextOverflow { prompt_tokens: 9, max_tokens: 1, context: 8 });
            }
            let text = match &request.response_schema {
                Some(_) => format!("{{\"n\": {}}}", request.messages.len()),
                None => format!("{}: {last}", request.messages.len()),
            };
            if last == "break" {
                let events = vec![
                    Ok(ChatEvent::Delta { text: "partial".into() }),
                    Err(LlmError::Provider { provider: "echo".into(), reason: "connection reset".into() }),
                ];
                return Ok(Box::pin(futures::stream::iter(events)));
            }
            let (a, b) = match &request.response_schema {
                Some(_) => (format!("```json\n{text}"), "\n```".to_string()),
                None => {
                    let (a, b) = text.split_at(text.len() / 2);
                    (a.to_string(), b.to_string())
                }
            };
            let response = ChatResponse {
                text: text.clone(),
                tool_calls: Vec::new(),
                finish_reason: FinishReason::Stop,
                usage: Usage { prompt_tokens: 1, completion_tokens: 2 },
                model: "echo".into(),
            };
            let events = vec![
                Ok(ChatEvent::Delta { text: a }),
                Ok(ChatEvent::Delta { text: b }),
                Ok(ChatEvent::Done(response)),
            ];
            Ok(Box::pin(futures::stream::iter(events)))
        }
    }

    fn job(system: Option<&str>) -> ChatJob {
        ChatJob { system: system.map(str::to_string), ..ChatJob::new(None) }
    }

    #[tokio::test]
    async fn conversation_keeps_history_skips_failed_turns_and_stops_at_exit() {
        let input = "hello\n\noverflow\nagain\n/exit\nnever\n".as_bytes();
        let mut out = Vec::new();
        job(Some("be brief")).converse(&EchoModel, None, input, &mut out, false).await.expect("conversation");
        // system + user = 2; then + assistant + user = 4 (the failed turn left no trace).
        assert_eq!(String::from_utf8(out).expect("utf8"), "2: hello\n4: again\n");
    }

    #[tokio::test]
    async fn streamed_and_whole_answers_print_the_same_text() {
        let mut streamed = Vec::new();
        let mut whole = Vec::new();
        let messages = vec![Message::user("q")];
        let a = job(None).answer(&EchoModel, messages.clone(), None, &mut streamed).await.expect("streamed");
        let b = ChatJob { stream: false, ..job(None) }
            .answer(&EchoModel, messages, None, &mut whole)
            .await
            .expect("whole");
        assert_eq!(streamed, whole);
        assert_eq!(a.text, b.text);
    }

    #[tokio::test]
    async fn schema_answers_are_not_streamed_and_print_only_the_json() {
        let schema = Schema {
            name: "count".into(),
            schema: serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
        };
        let mut out = Vec::new();
        let response = job(None)
            .answer(&EchoModel, vec![Message::user("q")], Some(&schema), &mut out)
            .await
            .expect("answer");
        assert_eq!(response.json().expect("JSON")["n"], 1);
        assert_eq!(String::from_utf8(out).expect("utf8"), "{\"n\": 1}\n", "no fence from the stream");
    }

    #[tokio::test]
    async fn a_stream_failing_midway_ends_the_partial_line() {
        let mut out = Vec::new();
        let err = job(None).answer(&EchoModel, vec![Message::user("break")], None, &mut out).await;
        assert!(matches!(err, Err(JobError::Llm(_))));
        assert_eq!(String::from_utf8(out).expect("utf8"), "partial\n");
        let mut out = Vec::new();
        let err = job(None).answer(&EchoModel, vec![Message::user("overflow")], None, &mut out).await;
        assert!(matches!(err, Err(JobError::Llm(_))));
        assert!(out.is_empty(), "nothing was printed, so no newline either");
    }
}
