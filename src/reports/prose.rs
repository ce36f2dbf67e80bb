//! The prose of a report: the report writer agent (its system prompt from the agent library)
//! writes each section from the section's computed data lines and retrieved passages; every
//! number of the text is then checked against the report's data. A failed model call leaves
//! the section without prose and says why — never filler.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::build::{Draft, Prose};
use super::data::Inputs;
use super::doc::Block;
use crate::agents::prompts::PromptTemplate;
use crate::agents::verify::{Evidence, Policy, verify};
use crate::llm::{ChatModel, ChatRequest, Message, SamplingParams};

/// The writer: a model, the agent's system prompt, the section template.
#[derive(Clone)]
pub struct Writer {
    pub model: Arc<dyn ChatModel>,
    /// The model profile and file, for the manifest.
    pub model_name: String,
    /// The writer agent's rendered system prompt.
    pub system: String,
    /// `prompts/report_section/<version>.md`.
    pub template: PromptTemplate,
    pub max_tokens: u32,
    pub policy: Policy,
    /// `writer@v1` / `report_section@v1` for the manifest.
    pub versions: Vec<String>,
}

/// Every number a section's prose may use: the data lines, table cells and passages of the
/// whole report, and the raw values of the ratio engine.
pub fn evidence(inputs: &Inputs, drafts: &[Draft]) -> Evidence {
    let mut e = Evidence::new();
    for d in drafts {
        for f in &d.facts {
            e.add_text(f);
        }
        for p in &d.passages {
            e.add_text(&p.text);
        }
        for b in &d.blocks {
            match b {
                Block::Table(t) => {
                    for cell in t.rows.iter().flatten().chain(t.notes.iter()) {
                        e.add_text(cell);
                    }
                }
                Block::Paragraph { text } | Block::Note { text } => e.add_text(text),
                Block::Bullets { items } => items.iter().for_each(|i| e.add_text(i)),
                _ => {}
            }
        }
    }
    for v in inputs.ratios.periods.iter().flat_map(|p| p.values.iter()).chain(inputs.ratios.market.iter()) {
        if let Some(x) = v.value {
            e.add_value(x);
        }
    }
    for p in &inputs.statements.periods {
        for v in p.values.values() {
            e.add_value(v.value);
        }
    }
    e
}

/// Splits `text` around citation markers (`[1]`, `[12]`): (is_marker, piece) in order.
fn split_citations(text: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'[' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 && j < bytes.len() && bytes[j] == b']' && j - i <= 4 {
                if start < i {
                    out.push((false, &text[start..i]));
                }
                out.push((true, &text[i..=j]));
                i = j + 1;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        out.push((false, &text[start..]));
    }
    out
}

impl Writer {
    /// Writes one section; `None` when the section has no prose.
    pub async fn write(&self, inputs: &Inputs, draft: &Draft, evidence: &Evidence) -> Prose {
        if !draft.prose {
            return Prose::default();
        }
        let c = &inputs.company;
        let context = json!({
            "section": draft.title,
            "company": c.name.clone().unwrap_or_else(|| c.ticker.clone()),
            "ticker": c.ticker,
            "as_of": inputs.as_of.to_string(),
            "task": draft.task,
            "facts": draft.facts,
            "passages": draft.passages,
        });
        let user = match self.template.render(&context) {
            Ok(u) => u,
            Err(e) => return Prose { error: Some(e.to_string()), ..Prose::default() },
        };
        let mut messages = vec![Message::system(self.system.clone()), Message::user(user)];
        let started = Instant::now();
        let mut prose = Prose::default();
        // One draft, and when it states numbers the data does not hold, one revision asked
        // with those numbers named; the version with fewer unsupported numbers is kept.
        for round in 0..2 {
            let response = self.model.chat(self.request(messages.clone())).await;
            prose.latency_ms = started.elapsed().as_millis() as u64;
            let r = match response {
                Ok(r) => r,
                Err(e) if round == 0 => {
                    prose.error = Some(format!("the model call failed: {e}"));
                    return prose;
                }
                Err(e) => {
                    tracing::warn!(section = draft.id, error = %e, "revision failed; the first draft is kept");
                    break;
                }
            };
            prose.prompt_tokens += r.usage.prompt_tokens;
            prose.completion_tokens += r.usage.completion_tokens;
            let raw = r.text.trim();
            if raw.is_empty() {
                if round == 0 {
                    prose.error = Some("the model returned no text".into());
                    return prose;
                }
                break;
            }
            let (text, checked, unsupported) = self.check(raw, draft.passages.len(), evidence);
            if round == 1 && unsupported.len() >= prose.unsupported.len() {
                break;
            }
            prose.revised = round == 1;
            prose.text = Some(text);
            prose.checked = checked;
            prose.unsupported = unsupported;
            if prose.unsupported.is_empty() {
                break;
            }
            messages.push(Message::assistant(raw.to_string()));
            messages.push(Message::user(format!(
                "These numbers are not in the data: {}. Rewrite the section using only numbers that appear in the data list above, exactly as written, or no numbers.",
                prose.unsupported.join(", ")
            )));
        }
        prose
    }

    fn request(&self, messages: Vec<Message>) -> ChatRequest {
        ChatRequest::new(messages).with_params(SamplingParams {
            temperature: Some(0.0),
            max_tokens: Some(self.max_tokens),
            seed: Some(7),
            ..SamplingParams::default()
        })
    }

    /// The text with its numbers checked (citation markers are references, not numbers: only
    /// the text between them is checked; a marker pointing at no passage is dropped), the
    /// count checked and the unsupported ones.
    fn check(&self, raw: &str, passages: usize, evidence: &Evidence) -> (String, usize, Vec<String>) {
        let mut text = String::new();
        let mut checked = 0;
        let mut unsupported = Vec::new();
        for (marker, piece) in split_citations(raw) {
            if marker {
                let n: usize = piece.trim_matches(['[', ']']).parse().unwrap_or(0);
                if (1..=passages).contains(&n) {
                    text.push_str(piece);
                }
                continue;
            }
            let v = verify(piece, evidence, self.policy);
            checked += v.checked;
            unsupported.extend(v.unsupported.into_iter().map(|u| u.raw));
            text.push_str(&v.text);
        }
        (text.trim().to_string(), checked, unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::RatioReport;
    use crate::llm::{ChatStream, LlmError};
    use bullpen_connectors::{Company, Statements};

    /// A test double standing in for a provider that fails (a local model cannot be made
    /// to fail on purpose).
    struct FailingModel;

    #[async_trait::async_trait]
    impl ChatModel for FailingModel {
        fn name(&self) -> &str {
            "failing"
        }
        async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, LlmError> {
            Err(LlmError::Provider { provider: "failing".into(), reason: "connection refused".into() })
        }
    }

    fn inputs() -> Inputs {
        let as_of = chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap();
        Inputs {
            company: Company {
                ticker: "KO".into(),
                name: Some("The Coca-Cola Company".into()),
                ..Company::default()
            },
            as_of,
            ratios: RatioReport {
                ticker: "KO".into(),
                as_of,
                periods: vec![],
                valuation: None,
                market: vec![],
                notes: vec![],
            },
            statements: Statements {
                ticker: None,
                cik: None,
                entity_name: None,
                periods: vec![],
                skipped: vec![],
            },
            prices: None,
            index: None,
            index_ticker: "^GSPC".into(),
            price: None,
            annual: None,
            quarterly: None,
            peers: vec![],
            files: vec![],
        }
    }

    #[tokio::test]
    async fn a_failed_model_call_leaves_the_section_without_prose_and_says_why() {
        let writer = writer(Arc::new(FailingModel));
        let draft = draft();
        let inputs = inputs();
        let p = writer.write(&inputs, &draft, &Evidence::new()).await;
        assert_eq!(p.text, None);
        let e = p.error.clone().unwrap();
        assert!(e.contains("the model call failed") && e.contains("connection refused"), "{e}");
        let a = super::super::analysis::Analysis::default();
        let doc =
            super::super::build::assemble(&inputs, &a, std::slice::from_ref(&draft), &[p], String::new());
        let notes: Vec<&str> = doc
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Note { text } => Some(text.as_str()),
                Block::Paragraph { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(notes.iter().any(|n| n.starts_with("Prose not written: the model call failed")), "{notes:?}");
        // No paragraph stands in for the missing prose: only the sources summary.
        let paragraphs = doc.blocks.iter().filter(|b| matches!(b, Block::Paragraph { .. })).count();
        assert_eq!(paragraphs, 1, "{:?}", doc.blocks);
    }

    /// A test double replaying fixed replies in order, to reach the revision branches.
    struct Replies(std::sync::Mutex<Vec<&'static str>>);

    #[async_trait::async_trait]
    impl ChatModel for Replies {
        fn name(&self) -> &str {
            "replies"
        }
        async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, LlmError> {
            let text = self.0.lock().unwrap().remove(0).to_string();
            let done = crate::llm::ChatResponse {
                text,
                tool_calls: vec![],
                finish_reason: crate::llm::FinishReason::Stop,
                usage: crate::llm::Usage { prompt_tokens: 10, completion_tokens: 5 },
                model: "replies".into(),
            };
            Ok(Box::pin(futures::stream::iter([Ok(crate::llm::ChatEvent::Done(done))])))
        }
    }

    fn writer(model: Arc<dyn ChatModel>) -> Writer {
        let source = "Write {{ section }} for {{ ticker }}.";
        Writer {
            model,
            model_name: "test".into(),
            system: "You write reports.".into(),
            template: PromptTemplate {
                name: "report_section".into(),
                version: "v1".into(),
                source: source.into(),
                path: "v1.md".into(),
            },
            max_tokens: 50,
            policy: Policy::Mark,
            versions: vec![],
        }
    }

    fn draft() -> Draft {
        Draft {
            id: "valuation",
            title: "Valuation",
            task: "Explain the valuation.",
            facts: vec!["Target price: 61.20".into()],
            passages: vec![],
            blocks: vec![],
            prose: true,
        }
    }

    #[tokio::test]
    async fn invented_numbers_get_one_revision_and_the_better_text_is_kept() {
        let mut ev = Evidence::new();
        ev.add_text("Target price: 61.20");
        let better = Replies(std::sync::Mutex::new(vec!["The target is 75.00.", "The target is 61.20."]));
        let p = writer(Arc::new(better)).write(&inputs(), &draft(), &ev).await;
        assert!(p.revised && p.unsupported.is_empty(), "{p:?}");
        assert_eq!(p.text.as_deref(), Some("The target is 61.20."));
        assert_eq!((p.prompt_tokens, p.completion_tokens), (20, 10));

        let worse = Replies(std::sync::Mutex::new(vec!["The target is 75.00.", "Up 9% to 80.00 and 90.00."]));
        let p = writer(Arc::new(worse)).write(&inputs(), &draft(), &ev).await;
        assert!(!p.revised, "{p:?}");
        assert_eq!(p.text.as_deref(), Some("The target is [unverified: 75.00]."));
        assert_eq!(p.unsupported, ["75.00"]);
    }

    #[test]
    fn citation_markers_split_out() {
        let parts = split_citations("Sales rose 5% [1] and margins [2][3] held; see [x] and [12345].");
        let markers: Vec<&str> = parts.iter().filter(|p| p.0).map(|p| p.1).collect();
        assert_eq!(markers, ["[1]", "[2]", "[3]"]);
        let joined: String = parts.iter().map(|p| p.1).collect();
        assert_eq!(joined, "Sales rose 5% [1] and margins [2][3] held; see [x] and [12345].");
        assert!(split_citations("").is_empty());
        assert_eq!(split_citations("[7"), vec![(false, "[7")]);
    }
}
