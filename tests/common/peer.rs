//! The peer: llama-cpp-python's OpenAI-compatible server running the same GGUF as
//! Bullpen's llama provider. `.ci/peer-server.sh start MODEL.gguf PORT` starts it;
//! tests find it through `BULLPEN_PEER_URL` (e.g. `http://127.0.0.1:8011/v1`).
//!
//! Include with `#[path = "common/peer.rs"] mod peer;`.
#![allow(dead_code)]

use bullpen::llm::profiles::OpenAiProfile;

/// Whether this run is CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The peer's base URL. In CI a missing `BULLPEN_PEER_URL` fails the test (the peer
/// is part of the suite there); elsewhere the test prints why it skips and returns `None`.
pub fn peer_url(test: &str) -> Option<String> {
    match std::env::var("BULLPEN_PEER_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ if in_ci() => panic!(
            "{test}: BULLPEN_PEER_URL is not set but CI is. .ci/run must start the peer \
             (.ci/peer-server.sh start MODEL.gguf PORT) and export BULLPEN_PEER_URL=http://127.0.0.1:PORT/v1"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: no peer server. Start one with `.ci/peer-server.sh install && \
                 .ci/peer-server.sh start \"$(cargo run -q -- models path smollm2-135m-instruct)\" 8011` \
                 and set BULLPEN_PEER_URL=http://127.0.0.1:8011/v1"
            );
            None
        }
    }
}

/// The model name the peer serves (`--model_alias`).
pub fn peer_model() -> String {
    std::env::var("BULLPEN_PEER_MODEL").unwrap_or_else(|_| "smollm2-135m-instruct".to_string())
}

/// An OpenAI-compatible profile for the peer: no API key, generous timeout (one slot,
/// requests queue), the server enforces JSON schemas itself.
pub fn peer_profile(base_url: &str) -> OpenAiProfile {
    OpenAiProfile {
        model: peer_model(),
        base_url: base_url.to_string(),
        api_key_env: "BULLPEN_PEER_API_KEY".to_string(),
        organization: None,
        headers: Default::default(),
        timeout_secs: 600,
        max_retries: 2,
        native_json_schema: true,
        params: Default::default(),
        fallback: Vec::new(),
    }
}
