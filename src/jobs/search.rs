//! [`SearchJob`]: hybrid retrieval over the RAG index; hits with citations on stdout.

use std::io::Write;

use async_trait::async_trait;

use super::base::{Job, JobContext, JobError};
use crate::rag::{Hit, Index};
use crate::settings::SearchJob;

impl SearchJob {
    /// Runs the search and returns the hits.
    pub async fn hits(&self, ctx: &JobContext) -> Result<Vec<Hit>, JobError> {
        let embedder = ctx.embedder(&self.index.embedder).await?;
        let index = Index::open(&self.index, &ctx.home, embedder).await?;
        Ok(index.retriever().search(&self.request()).await?)
    }
}

/// Hits for people: rank, score, citation, then the text (long texts shortened).
pub fn render_hits(hits: &[Hit]) -> String {
    if hits.is_empty() {
        return "no hits\n".to_string();
    }
    let mut out = String::new();
    for h in hits {
        out.push_str(&format!("{}. [{:.4}] {}", h.rank, h.score, h.citation.label()));
        if h.duplicates > 0 {
            out.push_str(&format!(" (+{} near-duplicates)", h.duplicates));
        }
        out.push('\n');
        let text: String = h.text.chars().take(600).collect();
        for line in text.lines() {
            out.push_str("   ");
            out.push_str(line);
            out.push('\n');
        }
        if h.text.chars().count() > 600 {
            out.push_str("   …\n");
        }
    }
    out
}

#[async_trait]
impl Job for SearchJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let hits = self.hits(ctx).await?;
        let text = if self.json {
            serde_json::to_string_pretty(&hits).map_err(|e| JobError::Output(std::io::Error::other(e)))?
                + "\n"
        } else {
            render_hits(&hits)
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(JobError::Output)
    }
}
