//! Experiment tracking: runs with parameters, metrics and artifacts, behind one trait. The local
//! backend keeps them under `BULLPEN_HOME/tracking`; an MLflow backend plugs into the same trait.
//!
//! Layout of the local backend: `<root>/<experiment>/<run id>/` with `run.json` (name, tags,
//! status, start and end), `params.json`, `metrics.jsonl` (one `{key, value, step, at}` per line,
//! appended) and `artifacts/`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Why tracking failed.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error("tracking store `{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no tracked run `{0}`")]
    UnknownRun(String),
    #[error("tracking: {0}")]
    Invalid(String),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Finished,
    Failed,
}

/// A tracked run's handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedRun {
    pub experiment: String,
    pub id: String,
}

/// Where runs, parameters, metrics and artifacts are recorded.
#[async_trait]
pub trait Tracker: Send + Sync {
    /// Start a run of `experiment`.
    async fn start_run(
        &self,
        experiment: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<TrackedRun, TrackingError>;
    async fn log_params(
        &self,
        run: &TrackedRun,
        params: &BTreeMap<String, String>,
    ) -> Result<(), TrackingError>;
    /// Metrics at a step (keys like `variant/metric`).
    async fn log_metrics(
        &self,
        run: &TrackedRun,
        metrics: &BTreeMap<String, f64>,
        step: u64,
    ) -> Result<(), TrackingError>;
    /// Copy a file into the run's artifacts.
    async fn log_artifact(&self, run: &TrackedRun, path: &Path) -> Result<(), TrackingError>;
    async fn end_run(&self, run: &TrackedRun, state: RunState) -> Result<(), TrackingError>;
}

/// The run record of the local backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub name: String,
    pub experiment: String,
    pub tags: BTreeMap<String, String>,
    pub state: RunState,
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// One metric value as the local backend stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub key: String,
    pub value: f64,
    pub step: u64,
    pub at: String,
}

/// Files under a root directory (default `BULLPEN_HOME/tracking`).
#[derive(Debug, Clone)]
pub struct LocalTracker {
    root: PathBuf,
}

impl LocalTracker {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The run's directory.
    pub fn run_dir(&self, run: &TrackedRun) -> PathBuf {
        self.root.join(safe(&run.experiment)).join(&run.id)
    }

    /// Every metric point logged to a run, in order.
    pub fn metrics(&self, run: &TrackedRun) -> Result<Vec<MetricPoint>, TrackingError> {
        let path = self.run_dir(run).join("metrics.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(TrackingError::Io { path, source }),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| TrackingError::Invalid(format!("{}: {e}", path.display())))
            })
            .collect()
    }

    /// The run's record.
    pub fn run(&self, run: &TrackedRun) -> Result<RunRecord, TrackingError> {
        let path = self.run_dir(run).join("run.json");
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TrackingError::UnknownRun(run.id.clone()),
            _ => TrackingError::Io { path: path.clone(), source: e },
        })?;
        serde_json::from_slice(&bytes).map_err(|e| TrackingError::Invalid(format!("{}: {e}", path.display())))
    }

    fn write_json(&self, path: &Path, value: &impl Serialize) -> Result<(), TrackingError> {
        serde_json::to_vec_pretty(value)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::utils::files::write_atomic(path, &bytes))
            .map_err(|source| TrackingError::Io { path: path.to_path_buf(), source })
    }
}

/// A directory name from an experiment name.
fn safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with('.') { format!("_{s}") } else { s }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[async_trait]
impl Tracker for LocalTracker {
    async fn start_run(
        &self,
        experiment: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<TrackedRun, TrackingError> {
        let id = format!(
            "{}-{:06x}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S"),
            rand::random::<u32>() & 0x00ff_ffff
        );
        let run = TrackedRun { experiment: experiment.to_string(), id };
        let record = RunRecord {
            id: run.id.clone(),
            name: name.to_string(),
            experiment: experiment.to_string(),
            tags: tags.clone(),
            state: RunState::Running,
            started: now(),
            ended: None,
        };
        self.write_json(&self.run_dir(&run).join("run.json"), &record)?;
        Ok(run)
    }

    async fn log_params(
        &self,
        run: &TrackedRun,
        params: &BTreeMap<String, String>,
    ) -> Result<(), TrackingError> {
        let path = self.run_dir(run).join("params.json");
        let mut all: BTreeMap<String, String> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        all.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.write_json(&path, &all)
    }

    async fn log_metrics(
        &self,
        run: &TrackedRun,
        metrics: &BTreeMap<String, f64>,
        step: u64,
    ) -> Result<(), TrackingError> {
        let path = self.run_dir(run).join("metrics.jsonl");
        let io = |source| TrackingError::Io { path: path.clone(), source };
        let mut lines = String::new();
        let at = now();
        for (key, value) in metrics {
            if !value.is_finite() {
                return Err(TrackingError::Invalid(format!(
                    "metric `{key}` is not a finite number ({value})"
                )));
            }
            let point = MetricPoint { key: key.clone(), value: *value, step, at: at.clone() };
            lines.push_str(&serde_json::to_string(&point).map_err(|e| io(std::io::Error::other(e)))?);
            lines.push('\n');
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        file.write_all(lines.as_bytes()).map_err(io)?;
        Ok(())
    }

    async fn log_artifact(&self, run: &TrackedRun, path: &Path) -> Result<(), TrackingError> {
        let name = path
            .file_name()
            .ok_or_else(|| TrackingError::Invalid(format!("`{}` is not a file", path.display())))?;
        let dir = self.run_dir(run).join("artifacts");
        std::fs::create_dir_all(&dir).map_err(|source| TrackingError::Io { path: dir.clone(), source })?;
        let target = dir.join(name);
        std::fs::copy(path, &target)
            .map_err(|source| TrackingError::Io { path: path.to_path_buf(), source })?;
        Ok(())
    }

    async fn end_run(&self, run: &TrackedRun, state: RunState) -> Result<(), TrackingError> {
        let mut record = self.run(run)?;
        record.state = state;
        record.ended = Some(now());
        self.write_json(&self.run_dir(run).join("run.json"), &record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_records_params_metrics_artifacts_and_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let t = LocalTracker::new(dir.path());
        let run =
            t.start_run("evals/fpb", "fpb", &BTreeMap::from([("kind".into(), "eval".into())])).await.unwrap();
        assert!(t.run_dir(&run).starts_with(dir.path().join("evals_fpb")));
        t.log_params(&run, &BTreeMap::from([("seed".into(), "42".into())])).await.unwrap();
        t.log_params(&run, &BTreeMap::from([("limit".into(), "10".into())])).await.unwrap();
        t.log_metrics(&run, &BTreeMap::from([("v1/accuracy".into(), 0.5)]), 0).await.unwrap();
        t.log_metrics(&run, &BTreeMap::from([("v1/accuracy".into(), 0.75)]), 1).await.unwrap();
        let err = t.log_metrics(&run, &BTreeMap::from([("x".into(), f64::NAN)]), 2).await.unwrap_err();
        assert!(err.to_string().contains("`x` is not a finite number"));
        let file = dir.path().join("summary.md");
        std::fs::write(&file, "# s").unwrap();
        t.log_artifact(&run, &file).await.unwrap();
        t.end_run(&run, RunState::Finished).await.unwrap();

        let record = t.run(&run).unwrap();
        assert_eq!((record.state, record.name.as_str()), (RunState::Finished, "fpb"));
        assert!(record.ended.is_some());
        let params: BTreeMap<String, String> =
            serde_json::from_slice(&std::fs::read(t.run_dir(&run).join("params.json")).unwrap()).unwrap();
        assert_eq!(params.len(), 2);
        let points = t.metrics(&run).unwrap();
        assert_eq!(points.iter().map(|p| (p.step, p.value)).collect::<Vec<_>>(), vec![(0, 0.5), (1, 0.75)]);
        assert!(t.run_dir(&run).join("artifacts/summary.md").is_file());
        let ghost = TrackedRun { experiment: "evals/fpb".into(), id: "nope".into() };
        assert!(matches!(t.run(&ghost), Err(TrackingError::UnknownRun(_))));
    }
}
