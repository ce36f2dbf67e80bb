//! The `BULLPEN_HOME` the integration tests share, so models are pulled once and reused:
//! `BULLPEN_HOME` if set, else `<target dir>/bullpen-test-home`.

use std::path::{Path, PathBuf};

pub fn test_home() -> PathBuf {
    if let Some(home) = std::env::var_os("BULLPEN_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("bullpen-test-home");
    }
    // A test binary is `<target>/<profile>/deps/<name>-<hash>`.
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .map_or_else(|| std::env::temp_dir().join("bullpen-test-home"), |t| t.join("bullpen-test-home"))
}
