//! The `bullpen` binary with bad and layered configurations: each bad-config kind
//! exits with status 2 and one documented `error: …` line naming the file, the key
//! path and what was expected; layering is files in order → environment → `-e`.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/confs";

/// The binary, run from the package root with no settings from the environment.
fn bullpen(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("bullpen").expect("the bullpen binary is built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BULLPEN_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("BULLPEN_HOME", home);
    cmd
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// Run `args`, expect status 2 and exactly one stderr line; return it.
fn config_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = bullpen(home.path());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("bullpen runs");
    let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line, got: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    lines[0].to_string()
}

#[test]
fn unknown_key() {
    let file = fixture("unknown_key.toml");
    assert_eq!(
        config_error(&["run", &file], &[]),
        format!(
            "error: invalid configuration: setting `job.temprature` (from file `{file}`): unknown key; expected \
             one of `profile`, `message`, `system`, `schema`, `stream`, `max_tokens` or `temperature`"
        )
    );
}

#[test]
fn wrong_type() {
    let file = fixture("wrong_type.toml");
    assert_eq!(
        config_error(&["run", &file], &[]),
        format!(
            "error: invalid configuration: setting `job.temperature` (from file `{file}`): expected f32, found \
             string \"hot\""
        )
    );
}

#[test]
fn missing_file() {
    let file = fixture("does_not_exist.toml");
    assert_eq!(
        config_error(&["run", &file], &[]),
        format!("error: invalid configuration: config file `{file}` not found")
    );
}

#[test]
fn invalid_toml() {
    let file = fixture("invalid.toml");
    let line = config_error(&["run", &file], &[]);
    let prefix =
        format!("error: invalid configuration: config file `{file}` is not valid TOML: line 3, column ");
    assert!(line.starts_with(&prefix), "{line}");
}

#[test]
fn unknown_kind() {
    let file = fixture("unknown_kind.toml");
    assert_eq!(
        config_error(&["run", &file], &[]),
        format!(
            "error: invalid configuration: setting `job.KIND` (from file `{file}`): unknown job kind `ChatJobs`; \
             expected one of `ChatJob`, `InferenceJob`, `PullModelsJob`, `IngestJob`, `SearchJob`, `AgentJob`, `ServeJob`, `ReportsJob` or `EvaluationJob`"
        )
    );
}

#[test]
fn missing_required_field() {
    let file = fixture("missing_field.toml");
    assert_eq!(
        config_error(&["run", &file], &[]),
        format!(
            "error: invalid configuration: setting `job.input` (from file `{file}`): missing; this key is required"
        )
    );
}

#[test]
fn bad_values_from_the_environment_and_overrides_name_their_source() {
    let base = fixture("layer_base.toml");
    let line = config_error(&["run", &base, "--dry-run"], &[("BULLPEN_JOB__STREAM", "maybe")]);
    assert_eq!(
        line,
        "error: invalid configuration: setting `job.stream` (from environment variable `BULLPEN_JOB__STREAM`): \
         expected a boolean, found string \"maybe\""
    );
    let line = config_error(&["run", &base, "--dry-run", "-e", "job.max_tokens=-1"], &[]);
    assert!(line.contains("`job.max_tokens` (from override `-e job.max_tokens=-1`): expected u32"), "{line}");
    let line = config_error(&["run", &base, "--dry-run", "-e", "job.profile=nope"], &[]);
    assert!(
        line.contains("`job.profile` (from override `-e job.profile=nope`): unknown profile `nope`"),
        "{line}"
    );
}

#[test]
fn invalid_profiles_and_models_exit_with_2_naming_the_key() {
    let base = fixture("layer_base.toml");
    let line = config_error(&["run", &base, "--dry-run", "-e", "profiles.local.fallback=[\"nope\"]"], &[]);
    assert_eq!(
        line,
        "error: invalid configuration: setting `profiles.local.fallback` (from override `-e \
         profiles.local.fallback=[\"nope\"]`): unknown profile `nope`; expected one of `local` or `minilm`"
    );
    let line = config_error(&["run", &base, "--dry-run", "-e", "profiles.local.context=0"], &[]);
    assert_eq!(
        line,
        "error: invalid configuration: setting `profiles.local.context` (from override `-e \
         profiles.local.context=0`): expected at least 1, found 0"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("models.toml");
    std::fs::write(
        &models,
        "[[models]]\nname = \"../evil\"\nkind = \"chat\"\nformat = \"gguf\"\nfiles = [{ name = \"m.gguf\" }]\n\
         sources = [{ KIND = \"Local\", path = \"/x\" }]\n",
    )
    .expect("write");
    let models = models.to_str().expect("utf-8 path");
    let line = config_error(&["run", &base, models, "--dry-run"], &[]);
    let prefix = format!(
        "error: invalid configuration: setting `models.0` (from file `{models}`): model `../evil` has an invalid \
         catalog entry: "
    );
    assert!(line.starts_with(&prefix), "{line}");
    // Commands without a job check them too.
    let line = config_error(&["-c", models, "models", "list"], &[]);
    assert!(line.starts_with(&prefix), "{line}");
}

#[test]
fn usage_errors_exit_with_2() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = bullpen(home.path()).arg("run").output().expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    let output = bullpen(home.path()).args(["schema", "--kind", "Nope"]).output().expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`Nope`") && stderr.contains("`PullModelsJob`"), "{stderr}");
    // Profiles named on the command line are checked before any model is loaded.
    let output = bullpen(home.path()).args(["chat", "--model", "nope", "hi"]).output().expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown profile `nope`"));
    let output =
        bullpen(home.path()).args(["embed", "--model", "local", "hi"]).output().expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is a chat profile"));
}

/// `run --dry-run --format json` of the layering fixtures; returns the job table.
fn resolved_job(extra_args: &[&str], env: &[(&str, &str)]) -> Value {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = bullpen(home.path());
    cmd.args([
        "run",
        &fixture("layer_base.toml"),
        &fixture("layer_override.toml"),
        "--dry-run",
        "--format",
        "json",
    ]);
    cmd.args(extra_args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("bullpen runs");
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let settings: Value = serde_json::from_slice(&output.stdout).expect("dry run prints JSON");
    settings["job"].clone()
}

#[test]
fn a_later_file_overrides_an_earlier_one() {
    let job = resolved_job(&[], &[]);
    assert_eq!(job["KIND"], "ChatJob");
    assert_eq!(job["system"], "from layer_override");
    assert_eq!(job["max_tokens"], 20);
    assert_eq!(job["temperature"], 0.1, "kept from the first file");
    assert_eq!(job["message"], "base");
}

#[test]
fn the_environment_overrides_files_and_plain_variables_are_not_settings() {
    let env =
        [("BULLPEN_JOB__MAX_TOKENS", "30"), ("BULLPEN_JOB__TEMPERATURE", "0.2"), ("BULLPEN_CACHE", "x")];
    let job = resolved_job(&[], &env);
    assert_eq!(job["max_tokens"], 30);
    assert_eq!(job["temperature"], 0.2);
    assert_eq!(job["system"], "from layer_override");
}

#[test]
fn overrides_win_over_the_environment() {
    let env = [("BULLPEN_JOB__MAX_TOKENS", "30"), ("BULLPEN_JOB__TEMPERATURE", "0.2")];
    let job = resolved_job(&["-e", "job.temperature=0.3", "-e", "job.message=two words"], &env);
    assert_eq!(job["max_tokens"], 30, "from the environment");
    assert_eq!(job["temperature"], 0.3, "-e over the environment");
    assert_eq!(job["message"], "two words", "a value that is not TOML is a string");
}

#[test]
fn a_partial_builtin_profile_keeps_the_rest_of_the_builtin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("local.toml");
    std::fs::write(&local, "[profiles.local]\ncontext = 4096\n").expect("write");
    let home = tempfile::tempdir().expect("tempdir");
    let output = bullpen(home.path())
        .args(["run", &fixture("layer_base.toml")])
        .arg(&local)
        .args(["-e", "profiles.local.threads=2", "--dry-run", "--format", "json"])
        .output()
        .expect("bullpen runs");
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let settings: Value = serde_json::from_slice(&output.stdout).expect("dry run prints JSON");
    let local = &settings["profiles"]["local"];
    assert_eq!(local["provider"], "llama", "from the built-in");
    assert_eq!(local["model"], "smollm2-135m-instruct", "from the built-in");
    assert_eq!(local["context"], 4096);
    assert_eq!(local["threads"], 2);
    assert_eq!(local["slots"], 8, "the built-in's default");
}

#[test]
fn dry_run_prints_toml_by_default_with_the_builtin_profiles() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = bullpen(home.path())
        .args(["run", "confs/inference.toml", "--dry-run"])
        .output()
        .expect("bullpen runs");
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let settings: toml::Table = toml::from_str(&String::from_utf8_lossy(&output.stdout)).expect("TOML");
    assert_eq!(settings["job"]["KIND"].as_str(), Some("InferenceJob"));
    assert_eq!(settings["job"]["input"].as_str(), Some("data/prompts.jsonl"));
    assert_eq!(settings["profiles"]["local"]["provider"].as_str(), Some("llama"));
    assert_eq!(settings["profiles"]["minilm"]["provider"].as_str(), Some("candle"));
}

#[test]
fn the_example_configs_are_valid() {
    for conf in [
        "confs/chat.toml",
        "confs/inference.toml",
        "confs/models.toml",
        "confs/ingest.toml",
        "confs/search.toml",
        "confs/agent.toml",
        "confs/serve.toml",
        "confs/reports.toml",
        "confs/evals/fpb.toml",
        "confs/evals/gold_news.toml",
        "confs/evals/finqa.toml",
        "confs/evals/tatqa.toml",
        "confs/evals/finner.toml",
        "confs/evals/ectsum.toml",
    ] {
        let home = tempfile::tempdir().expect("tempdir");
        let output = bullpen(home.path()).args(["run", conf, "--dry-run"]).output().expect("bullpen runs");
        assert!(output.status.success(), "{conf}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn an_evaluation_variant_with_an_unknown_profile_is_named_by_its_key() {
    let home = tempfile::tempdir().expect("tempdir");
    // A later file replaces the variants: the second one names a profile nobody defined.
    let extra = home.path().join("variants.toml");
    std::fs::write(
        &extra,
        "[[job.variants]]\nname = \"a\"\n\n[[job.variants]]\nname = \"b\"\nprofile = \"gpt-9\"\n",
    )
    .expect("write");
    let output = bullpen(home.path())
        .args(["run", "confs/evals/fpb.toml", extra.to_str().expect("utf-8 path"), "--dry-run"])
        .output()
        .expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("job.variants[1].profile") && err.contains("unknown profile `gpt-9`"), "{err}");
    // The few-shot embedder of a nearest-neighbour variant must be an embedding profile.
    let output = bullpen(home.path())
        .args(["run", "confs/evals/gold_news.toml", "--dry-run", "-e", "job.task.fewshot.embedder=\"local\""])
        .output()
        .expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("job.task.fewshot.embedder"), "{err}");
}

#[test]
fn an_index_setting_error_names_its_key() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = bullpen(home.path())
        .args(["run", "confs/ingest.toml", "--dry-run", "-e", "job.index.chunking.size=\"big\""])
        .output()
        .expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("job.index.chunking.size"), "{err}");
    let output = bullpen(home.path())
        .args(["run", "confs/search.toml", "--dry-run", "-e", "job.index.embedder=local"])
        .output()
        .expect("bullpen runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected an embedding profile"));
}

/// Every `KIND` constant declared in a schema.
fn kinds(schema: &Value, found: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(kind) = map.get("properties").and_then(|p| p.get("KIND")).and_then(|k| k.get("const"))
            {
                found.insert(kind.as_str().unwrap_or_default().to_string());
            }
            map.values().for_each(|v| kinds(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| kinds(v, found)),
        _ => {}
    }
}

#[test]
fn schema_lists_every_job_kind() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = bullpen(home.path()).arg("schema").output().expect("bullpen runs");
    assert!(output.status.success());
    let schema: Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let mut found = BTreeSet::new();
    kinds(&schema["$defs"]["JobSettings"], &mut found);
    let expected = [
        "ChatJob",
        "InferenceJob",
        "PullModelsJob",
        "IngestJob",
        "SearchJob",
        "AgentJob",
        "ServeJob",
        "ReportsJob",
        "EvaluationJob",
    ];
    assert_eq!(found, expected.into_iter().map(String::from).collect::<BTreeSet<_>>());
    assert_eq!(schema["properties"]["job"]["$ref"], "#/$defs/JobSettings");
    for key in ["job", "profiles", "models", "logging"] {
        assert!(schema["properties"].get(key).is_some(), "no `{key}` in the schema");
    }
}

#[test]
fn schema_of_one_kind() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = bullpen(home.path()).args(["schema", "--kind", "ChatJob"]).output().expect("bullpen runs");
    assert!(output.status.success());
    let schema: Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let mut found = BTreeSet::new();
    kinds(&schema, &mut found);
    assert_eq!(found, BTreeSet::from(["ChatJob".to_string()]));
    assert!(schema["properties"].get("message").is_some());
    assert!(schema["properties"].get("input").is_none(), "not an InferenceJob field");
}
