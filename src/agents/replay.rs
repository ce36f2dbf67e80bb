//! Replaying a run from its audit log: the model's recorded replies are served back in order
//! (per agent), while the tools run again on today's data. A replay is itself a run with its
//! own log; [`compare`] says where it differs from the original.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::AgentError;
use super::audit::Record;
use super::runtime::ModelSource;
use crate::llm::{ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, LlmError};

type Replies = Arc<Mutex<HashMap<String, VecDeque<Result<ChatResponse, String>>>>>;

/// Serves the replies of a log.
pub struct ReplayModels {
    replies: Replies,
    context: u32,
}

impl ReplayModels {
    /// The model replies of `records`, per agent in order.
    pub fn new(records: &[Record]) -> Self {
        let mut map: HashMap<String, VecDeque<Result<ChatResponse, String>>> = HashMap::new();
        for r in records {
            if let Record::Model { agent, response, error, .. } = r {
                let reply = match (response, error) {
                    (Some(r), _) => Ok(r.clone()),
                    (None, e) => Err(e.clone().unwrap_or_else(|| "unknown error".into())),
                };
                map.entry(agent.clone()).or_default().push_back(reply);
            }
        }
        // The log holds already-fitted prompts; a replay must not summarise differently.
        Self { replies: Arc::new(Mutex::new(map)), context: u32::MAX / 4 }
    }
}

#[async_trait]
impl ModelSource for ReplayModels {
    async fn model(&self, agent: &str, _profile: &str) -> Result<Arc<dyn ChatModel>, AgentError> {
        Ok(Arc::new(ReplayModel { agent: agent.to_string(), replies: self.replies.clone() }))
    }
    fn context_window(&self, _profile: &str) -> u32 {
        self.context
    }
}

/// The recorded replies of one agent.
struct ReplayModel {
    agent: String,
    replies: Replies,
}

#[async_trait]
impl ChatModel for ReplayModel {
    fn name(&self) -> &str {
        "replay"
    }
    async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, LlmError> {
        let next = self
            .replies
            .lock()
            .map_err(|_| LlmError::Provider { provider: "replay".into(), reason: "lock poisoned".into() })?
            .get_mut(&self.agent)
            .and_then(VecDeque::pop_front);
        match next {
            Some(Ok(response)) => Ok(Box::pin(futures::stream::iter(vec![Ok(ChatEvent::Done(response))]))),
            Some(Err(error)) => Err(LlmError::Provider { provider: "replay".into(), reason: error }),
            None => Err(LlmError::Provider {
                provider: "replay".into(),
                reason: format!(
                    "the log has no more model replies for agent `{}`: the replay diverged",
                    self.agent
                ),
            }),
        }
    }
}

/// Differences between an original run and its replay: tool outputs and the final answer.
pub fn compare(original: &[Record], replay: &[Record]) -> Vec<String> {
    let tools = |rs: &[Record]| -> Vec<(String, String, String)> {
        rs.iter()
            .filter_map(|r| match r {
                Record::Tool { name, arguments, output, error, .. } => Some((
                    name.clone(),
                    arguments.to_string(),
                    match (output, error) {
                        (Some(o), _) => o.content.to_string(),
                        (None, e) => format!("error: {}", e.clone().unwrap_or_default()),
                    },
                )),
                _ => None,
            })
            .collect()
    };
    let answer = |rs: &[Record]| {
        rs.iter().rev().find_map(|r| match r {
            Record::Finish { answer, status, .. } => Some((answer.clone(), *status)),
            _ => None,
        })
    };
    let (a, b) = (tools(original), tools(replay));
    let mut diffs = Vec::new();
    if a.len() != b.len() {
        diffs.push(format!("{} tool calls originally, {} in the replay", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x.0 != y.0 || x.1 != y.1 {
            diffs.push(format!(
                "tool call {}: {}({}) originally, {}({}) in the replay",
                i + 1,
                x.0,
                x.1,
                y.0,
                y.1
            ));
        } else if x.2 != y.2 {
            diffs.push(format!("tool call {} ({}): the output changed", i + 1, x.0));
        }
    }
    match (answer(original), answer(replay)) {
        (Some(x), Some(y)) if x != y => diffs
            .push(format!("final answer: {:?} {:?} originally, {:?} {:?} in the replay", x.1, x.0, y.1, y.0)),
        (None, Some(_)) => diffs.push("the original run did not finish".into()),
        _ => {}
    }
    diffs
}
