//! The HTTP server over real HTTP, with async-openai as the client and the real SmolLM2:
//! completions whole and streamed, an agent with tool calls, sessions across a restart,
//! auth, rate limits, body limits, bad requests, backpressure, graceful shutdown with a
//! stream in flight, metrics, OpenAPI, and the web page in headless Chromium.
#![cfg(all(feature = "server", feature = "llama", feature = "openai"))]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use bullpen::jobs::JobContext;
use bullpen::server::{AppState, router, serve};
use bullpen::settings::{BaseSettings, JobSettings, ServeJob};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[path = "common/home.rs"]
mod home;
use home::test_home;

const KEY: &str = "test-key-123";

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    state: Arc<AppState>,
}

impl Server {
    async fn start(job: ServeJob) -> Self {
        let job = ServeJob { api_keys: vec![KEY.into()], ..job };
        let settings = BaseSettings::default().with_job(JobSettings::ServeJob(job.clone()));
        let ctx = JobContext::with_home(&settings, test_home());
        let state = job.state(&ctx).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(serve(listener, router(state.clone()), async {
            let _ = rx.await;
        }));
        Server { addr, stop: Some(tx), done, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn client(&self) -> Client<OpenAIConfig> {
        Client::with_config(OpenAIConfig::new().with_api_base(self.url("/v1")).with_api_key(KEY))
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.done.await.expect("join").expect("served");
    }
}

fn job(sessions: &Path) -> ServeJob {
    ServeJob { sessions_db: Some(sessions.join("sessions.sqlite")), ..ServeJob::default() }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn ask(text: &str, max_tokens: u32) -> CreateChatCompletionRequest {
    serde_json::from_value(json!({
        "model": "local",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0.0,
        "max_tokens": max_tokens
    }))
    .expect("request")
}

#[tokio::test]
async fn whole_and_streamed_completions_agree() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(job(dir.path())).await;
    let client = server.client();
    let whole = client.chat().create(ask("What is a stock split?", 32)).await.expect("completion");
    let text = whole.choices[0].message.content.clone().expect("content");
    assert!(!text.is_empty());
    let usage = whole.usage.expect("usage");
    assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    let mut req = ask("What is a stock split?", 32);
    req.stream = Some(true);
    let mut stream = client.chat().create_stream(req).await.expect("stream");
    let mut streamed = String::new();
    let mut finish = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        if let Some(c) = chunk.choices.first() {
            if let Some(t) = &c.delta.content {
                streamed.push_str(t);
            }
            if c.finish_reason.is_some() {
                finish = c.finish_reason;
            }
        }
    }
    assert_eq!(streamed, text, "the deltas concatenate to the whole answer");
    assert!(finish.is_some());
    // Models: agents and profiles.
    let models: Value =
        http().get(server.url("/v1/models")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    let ids: Vec<String> =
        models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert!(
        ids.contains(&"agent:market-analyst".to_string()) && ids.contains(&"local".to_string()),
        "{ids:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_agent_answers_with_tool_calls_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(job(dir.path())).await;
    let client = server.client();
    let body = json!({"model": "agent:market-analyst", "messages": [{"role": "user", "content": "Latest price of KO?"}]});
    let r: Value = client.chat().create_byot(body.clone()).await.expect("agent completion");
    assert_eq!(r["object"], "chat.completion");
    let ext = &r["bullpen"];
    assert!(!ext["tool_calls"].as_array().unwrap().is_empty(), "{ext}");
    assert!(ext["tool_calls"].as_array().unwrap().iter().all(|c| c["valid"] == true));
    assert!(ext["unsupported_numbers"].is_u64());
    assert!(r["choices"][0]["message"]["content"].is_string());
    // Streamed: tool events arrive as `bullpen_event` deltas that OpenAI clients skip.
    let mut req = body;
    req["stream"] = json!(true);
    let mut stream = client.chat().create_stream_byot::<Value, Value>(req).await.expect("stream");
    let (mut events, mut content) = (Vec::new(), String::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        let delta = &chunk["choices"][0]["delta"];
        if let Some(e) = delta.get("bullpen_event") {
            events.push(e["type"].as_str().unwrap_or_default().to_string());
        }
        if let Some(t) = delta["content"].as_str() {
            content.push_str(t);
        }
    }
    assert!(
        events.contains(&"tool_started".to_string()) && events.contains(&"result".to_string()),
        "{events:?}"
    );
    assert!(!content.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_session_continues_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(job(dir.path())).await;
    let s: Value = http()
        .post(server.url("/v1/sessions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "local", "title": "test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = s["id"].as_str().unwrap().to_string();
    let turn = |text: &str| json!({"model": "local", "session_id": id, "max_tokens": 16, "temperature": 0.0, "messages": [{"role": "user", "content": text}]});
    let _: Value = server.client().chat().create_byot(turn("My name is Ada.")).await.expect("turn 1");
    server.stop().await;

    let server = Server::start(job(dir.path())).await;
    let _: Value = server.client().chat().create_byot(turn("What is my name?")).await.expect("turn 2");
    let detail: Value = http()
        .get(server.url(&format!("/v1/sessions/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 4, "{detail}");
    assert_eq!(history[0]["content"], "My name is Ada.");
    assert_eq!(history[2]["content"], "What is my name?");
    let list: Value =
        http().get(server.url("/v1/sessions")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let del = http().delete(server.url(&format!("/v1/sessions/{id}"))).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(del.status(), 200);
    let gone = http().get(server.url(&format!("/v1/sessions/{id}"))).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let r = http()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&turn("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "an unknown session is an error, not a silent new conversation");
    server.stop().await;
}

#[tokio::test]
async fn auth_limits_and_bad_requests_get_openai_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeJob { requests_per_minute: 4, max_body_kib: 1, ..job(dir.path()) }).await;
    let h = http();
    // Health needs no key; the API does.
    assert_eq!(h.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    let r = h.get(server.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(h.get(server.url("/v1/models")).bearer_auth("wrong").send().await.unwrap().status(), 401);
    // Malformed JSON, unknown model, invalid parameter.
    let bad = h
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let e: Value = bad.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("malformed JSON"), "{e}");
    let unknown = h
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let e: Value = unknown.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
    let invalid = h
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "local", "temperature": 7, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    let e: Value = invalid.json().await.unwrap();
    assert_eq!(e["error"]["param"], "temperature");
    // Body over 1 KiB.
    let big = "x".repeat(4096);
    let r = h
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "local", "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("1024 bytes"), "{e}");
    // Four requests a minute per key (the four bad requests above): the fifth is refused.
    let r = h.get(server.url("/v1/models")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(r.status(), 429, "the key's four requests are spent");
    assert!(r.headers().get("retry-after").is_some());
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "rate_limit_error");
    server.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_429_and_metrics_count_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeJob { max_concurrent: 1, max_queue: 0, ..job(dir.path()) }).await;
    let slow = server.client();
    let first =
        tokio::spawn(async move { slow.chat().create(ask("Write a long essay about bonds.", 96)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = http()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&ask("hi", 8))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().get("retry-after").is_some());
    first.await.unwrap().expect("the first request completes");
    let metrics =
        http().get(server.url("/metrics")).bearer_auth(KEY).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bullpen_rejected_total{reason=\"queue_full\"} 1"), "{metrics}");
    assert!(metrics.contains("bullpen_http_requests_total{route=\"chat\",status=\"200\"} 1"));
    assert!(metrics.contains("bullpen_completion_tokens_total"));
    let openapi: Value =
        http().get(server.url("/openapi.json")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert!(openapi["paths"]["/v1/chat/completions"]["post"].is_object());
    // Ready once the default model is loaded.
    for _ in 0..100 {
        if http().get(server.url("/readyz")).send().await.unwrap().status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(http().get(server.url("/readyz")).send().await.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_a_stream_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(job(dir.path())).await;
    let mut req = ask("Explain diversification in detail.", 64);
    req.stream = Some(true);
    let mut stream = server.client().chat().create_stream(req).await.expect("stream");
    let first = stream.next().await.expect("a first chunk").expect("ok");
    assert!(!first.choices.is_empty());
    let addr = server.addr;
    let state = server.state.clone();
    // Stop while the stream is open: it must still end normally.
    let stopping = tokio::spawn(server.stop());
    let mut chunks = 1;
    let mut finished = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("no error mid-stream");
        chunks += 1;
        finished |= chunk.choices.iter().any(|c| c.finish_reason.is_some());
    }
    assert!(finished && chunks > 2, "the stream ran to its end ({chunks} chunks)");
    stopping.await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "new connections are refused");
    drop(state);
}

/// A few WebDriver calls (W3C JSON over HTTP) to chromedriver.
struct Driver {
    base: String,
    http: reqwest::Client,
}

impl Driver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.expect("webdriver").json().await.expect("webdriver JSON");
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }
    async fn element(&self, session: &str, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/session/{session}/element"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).expect("element id").to_string()
    }
    async fn script(&self, session: &str, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            &format!("/session/{session}/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
        .await
    }
}

#[tokio::test]
async fn the_web_page_streams_an_answer_in_headless_chromium() {
    let chromium = "/usr/bin/chromium";
    let driver_bin = "/usr/bin/chromedriver";
    if !Path::new(chromium).exists() || !Path::new(driver_bin).exists() {
        assert!(
            std::env::var_os("BULLPEN_REQUIRE_CHROMIUM").is_none(),
            "chromium and chromedriver are required here"
        );
        eprintln!("skipped: no chromium/chromedriver (scripts/setup.sh --test installs them)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(job(dir.path())).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut chromedriver = tokio::process::Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver");
    let d = Driver { base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() };
    for _ in 0..100 {
        if d.http.get(format!("{}/status", d.base)).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,800"]}}}});
    let session = d.call(reqwest::Method::POST, "/session", Some(caps)).await["sessionId"]
        .as_str()
        .expect("session")
        .to_string();
    // Open the page with the key (kept in the page's local storage), pick the raw model.
    d.call(
        reqwest::Method::POST,
        &format!("/session/{session}/url"),
        Some(json!({"url": server.url(&format!("/?model=local&key={KEY}"))})),
    )
    .await;
    for _ in 0..50 {
        if d.script(&session, "return document.getElementById('model').options.length")
            .await
            .as_u64()
            .unwrap_or(0)
            > 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Type a message and send it, as a person would.
    let input = d.element(&session, "#input").await;
    d.call(
        reqwest::Method::POST,
        &format!("/session/{session}/element/{input}/value"),
        Some(json!({"text": "Say hello to investors."})),
    )
    .await;
    let send = d.element(&session, "#send").await;
    d.call(reqwest::Method::POST, &format!("/session/{session}/element/{send}/click"), Some(json!({}))).await;
    let mut state = Value::Null;
    for _ in 0..600 {
        state = d
            .script(
                &session,
                "const b = document.querySelector('.msg.assistant'); return b ? b.dataset.state : null",
            )
            .await;
        if state == "done" || state == "error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer =
        d.script(&session, "return document.querySelector('.msg.assistant .answer').textContent").await;
    assert_eq!(state, "done", "the answer streamed to its end: {answer}");
    assert!(!answer.as_str().unwrap_or_default().trim().is_empty(), "an answer is shown");
    let user = d.script(&session, "return document.querySelector('.msg.user').textContent").await;
    assert_eq!(user, "Say hello to investors.");
    // A screenshot, kept as a test artifact.
    let png = d.call(reqwest::Method::GET, &format!("/session/{session}/screenshot"), None).await;
    use base64::Engine as _;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).expect("base64");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-chat.png");
    std::fs::write(&shot, &bytes).expect("screenshot");
    assert_eq!(&bytes[1..4], b"PNG");
    d.call(reqwest::Method::DELETE, &format!("/session/{session}"), None).await;
    let _ = chromedriver.kill().await;
    server.stop().await;
}

#[tokio::test]
async fn embeddings_cors_timeouts_and_typed_clients_on_agent_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeJob {
        cors_origins: vec!["http://app.example".into()],
        request_timeout_s: 1,
        ..job(dir.path())
    })
    .await;
    // Embeddings through the MiniLM profile.
    let e: Value = http()
        .post(server.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .json(&json!({"model": "minilm", "input": ["net income", "revenue"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(e["data"].as_array().unwrap().len(), 2, "{e}");
    assert_eq!(e["data"][0]["embedding"].as_array().unwrap().len(), 384);
    // CORS: the configured origin is allowed, others get no CORS headers.
    let ok = http().get(server.url("/healthz")).header("origin", "http://app.example").send().await.unwrap();
    assert_eq!(ok.headers().get("access-control-allow-origin").unwrap(), "http://app.example");
    let other =
        http().get(server.url("/healthz")).header("origin", "http://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A generation longer than the 1 s timeout ends with a timeout error, not a hang.
    let slow = http()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "local", "max_tokens": 2000, "messages": [{"role": "user", "content": "Write a very long history of banking."}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 408);
    server.stop().await;

    // A typed OpenAI client reads an agent's stream: the event deltas carry no content.
    let server = Server::start(job(dir.path())).await;
    let req: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": "agent:market-analyst", "stream": true,
        "messages": [{"role": "user", "content": "Quote for KO?"}]
    }))
    .unwrap();
    let mut stream = server.client().chat().create_stream(req).await.expect("stream");
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("every chunk parses as an OpenAI chunk");
        if let Some(t) = chunk.choices.first().and_then(|c| c.delta.content.clone()) {
            text.push_str(&t);
        }
    }
    assert!(!text.is_empty());
    server.stop().await;
}

#[test]
fn no_key_is_refused_unless_explicitly_allowed_on_loopback() {
    // SAFETY of the test: BULLPEN_API_KEYS is not set in the test environment.
    if std::env::var_os("BULLPEN_API_KEYS").is_some() {
        return;
    }
    let refused = ServeJob::default().socket_addr().unwrap_err().to_string();
    assert!(refused.contains("no API keys"), "{refused}");
    let open = ServeJob { allow_unauthenticated: true, ..ServeJob::default() };
    assert!(open.socket_addr().is_ok());
    let public = ServeJob { allow_unauthenticated: true, addr: "0.0.0.0:8080".into(), ..ServeJob::default() };
    assert!(public.socket_addr().unwrap_err().to_string().contains("loopback"));
    let keyed = ServeJob { api_keys: vec!["k".into()], addr: "0.0.0.0:8080".into(), ..ServeJob::default() };
    assert!(keyed.socket_addr().is_ok());
}

#[test]
fn sigterm_lets_a_stream_finish_and_keys_stay_out_of_logs() {
    use std::io::{BufRead, BufReader, Read, Write};
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(test_home().join("models"), home.path().join("models")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bullpen"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("BULLPEN_HOME", home.path())
        .env("BULLPEN_API_KEYS", "sekret-key-42")
        .env("BULLPEN_LOGGING__LEVEL", "debug")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the server started");
    }
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = json!({"model": "local", "stream": true, "max_tokens": 48, "temperature": 0.0, "messages": [{"role": "user", "content": "Explain bonds."}]}).to_string();
    write!(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret-key-42\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut first = [0u8; 64];
    let n = conn.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    // SIGTERM with the stream open.
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    conn.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("[DONE]"), "the stream finished: {rest}");
    assert!(child.wait().unwrap().success(), "clean exit");
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(!log.contains("sekret-key-42"), "the key never appears in logs");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
