//! Small file helpers shared by the sources: transparent gzip, atomic writes.

use std::io::Read;
use std::path::Path;

use crate::error::{ConnectorError, Result};

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes (whatever its
/// name says).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| ConnectorError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 6);
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| ConnectorError::parse(path.display().to_string(), format!("bad gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Reads a file as UTF-8 (gunzipped when needed); invalid bytes are a parse error.
pub fn read_string(path: &Path) -> Result<String> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        ConnectorError::parse(path.display().to_string(), format!("not UTF-8 text: {}", e.utf8_error()))
    })
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ConnectorError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ConnectorError::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| ConnectorError::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| ConnectorError::io(path, e.error))?;
    Ok(())
}

/// The files of a directory, sorted; a missing directory has none (every universe part is
/// optional), any other error names the directory.
pub fn list_dir(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConnectorError::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in rd {
        let path = entry.map_err(|e| ConnectorError::io(dir, e))?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The path with a `.gz` variant tried when the plain one does not exist.
pub fn existing_with_gz(path: &Path) -> Option<std::path::PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    let mut gz = path.as_os_str().to_owned();
    gz.push(".gz");
    let gz = std::path::PathBuf::from(gz);
    gz.exists().then_some(gz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_gzip_and_names_bad_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.txt");
        write_atomic(&plain, b"hello").unwrap();
        assert_eq!(read_string(&plain).unwrap(), "hello");

        let gz = dir.path().join("b.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, b"zipped").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_string(&gz).unwrap(), "zipped");
        assert_eq!(existing_with_gz(&dir.path().join("b.txt")).unwrap(), gz);

        let bad = dir.path().join("c.gz");
        std::fs::write(&bad, [0x1f, 0x8b, 0, 1, 2]).unwrap();
        let err = read_bytes(&bad).unwrap_err().to_string();
        assert!(err.contains("c.gz") && err.contains("gzip"), "{err}");
    }
}
