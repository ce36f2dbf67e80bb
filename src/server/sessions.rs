//! Chat sessions in SQLite (`$BULLPEN_HOME/sessions.sqlite`): a session's messages survive a
//! restart; a chat request naming a session continues it. Calls run on the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::llm::{Message, Role};

/// Why the session store failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store `{}`: {reason}", path.display())]
    Store { path: PathBuf, reason: String },
    #[error("no session `{0}`")]
    NotFound(String),
}

/// A session's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: String,
    pub object: String,
    /// The model or agent it was created for (informative; each request names its model).
    pub model: Option<String>,
    pub title: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub messages: usize,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredMessage {
    pub role: String,
    pub content: String,
    /// The agent run that produced it, if any (`bullpen runs show RUN_ID`).
    pub run_id: Option<String>,
    pub created_at: i64,
}

/// A session with its messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: Session,
    pub history: Vec<StoredMessage>,
}

/// The store.
#[derive(Clone)]
pub struct SessionStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl SessionStore {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, SessionError> {
        let err = |e: &dyn std::fmt::Display| SessionError::Store {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(path).map_err(|e| err(&e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA foreign_keys = ON;
             CREATE TABLE IF NOT EXISTS sessions (
                 id TEXT PRIMARY KEY, model TEXT, title TEXT,
                 created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS messages (
                 session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                 seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
                 run_id TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (session_id, seq));",
        )
        .map_err(|e| err(&e))?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: path.to_path_buf() })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SessionError> + Send + 'static,
    ) -> Result<T, SessionError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .map_err(|_| SessionError::Store { path: path.clone(), reason: "lock poisoned".into() })?;
            f(&mut c)
        })
        .await
        .map_err(|e| SessionError::Store { path: self.path.clone(), reason: e.to_string() })?
    }

    fn store_err(&self) -> impl Fn(rusqlite::Error) -> SessionError + Send + Clone + 'static {
        let path = self.path.clone();
        move |e| SessionError::Store { path: path.clone(), reason: e.to_string() }
    }

    pub async fn create(
        &self,
        model: Option<String>,
        title: Option<String>,
    ) -> Result<Session, SessionError> {
        let err = self.store_err();
        let id = format!("sess_{}", uuid::Uuid::new_v4().simple());
        self.with(move |c| {
            let t = now();
            c.execute(
                "INSERT INTO sessions (id, model, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, model, title, t],
            )
            .map_err(&err)?;
            Ok(Session {
                id,
                object: "session".into(),
                model,
                title,
                created_at: t,
                updated_at: t,
                messages: 0,
            })
        })
        .await
    }

    fn summary(c: &Connection, id: &str) -> rusqlite::Result<Option<Session>> {
        c.query_row(
            "SELECT s.id, s.model, s.title, s.created_at, s.updated_at,
                    (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id)
             FROM sessions s WHERE s.id = ?1",
            params![id],
            |r| {
                Ok(Session {
                    id: r.get(0)?,
                    object: "session".into(),
                    model: r.get(1)?,
                    title: r.get(2)?,
                    created_at: r.get(3)?,
                    updated_at: r.get(4)?,
                    messages: r.get::<_, i64>(5)? as usize,
                })
            },
        )
        .optional()
    }

    pub async fn get(&self, id: &str) -> Result<SessionDetail, SessionError> {
        let err = self.store_err();
        let id = id.to_string();
        self.with(move |c| {
            let session = Self::summary(c, &id).map_err(&err)?.ok_or_else(|| SessionError::NotFound(id.clone()))?;
            let mut stmt = c
                .prepare("SELECT role, content, run_id, created_at FROM messages WHERE session_id = ?1 ORDER BY seq")
                .map_err(&err)?;
            let history = stmt
                .query_map(params![id], |r| {
                    Ok(StoredMessage { role: r.get(0)?, content: r.get(1)?, run_id: r.get(2)?, created_at: r.get(3)? })
                })
                .map_err(&err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(&err)?;
            Ok(SessionDetail { session, history })
        })
        .await
    }

    pub async fn list(&self) -> Result<Vec<Session>, SessionError> {
        let err = self.store_err();
        self.with(move |c| {
            let ids: Vec<String> = c
                .prepare("SELECT id FROM sessions ORDER BY updated_at DESC, id")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(&err)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(s) = Self::summary(c, &id).map_err(&err)? {
                    out.push(s);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Deletes a session; `false` when there was none.
    pub async fn delete(&self, id: &str) -> Result<bool, SessionError> {
        let err = self.store_err();
        let id = id.to_string();
        self.with(
            move |c| Ok(c.execute("DELETE FROM sessions WHERE id = ?1", params![id]).map_err(&err)? > 0),
        )
        .await
    }

    pub async fn count(&self) -> Result<usize, SessionError> {
        let err = self.store_err();
        self.with(move |c| {
            c.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(&err)
        })
        .await
    }

    /// The conversation so far (system, user and assistant turns).
    pub async fn history(&self, id: &str) -> Result<Vec<Message>, SessionError> {
        let detail = self.get(id).await?;
        Ok(detail
            .history
            .into_iter()
            .map(|m| match m.role.as_str() {
                "system" => Message::system(m.content),
                "assistant" => Message::assistant(m.content),
                _ => Message::user(m.content),
            })
            .collect())
    }

    /// Appends an exchange in one transaction (the user's new messages and the answer).
    pub async fn append(
        &self,
        id: &str,
        messages: Vec<Message>,
        run_id: Option<String>,
    ) -> Result<(), SessionError> {
        let err = self.store_err();
        let id = id.to_string();
        self.with(move |c| {
            let tx = c.transaction().map_err(&err)?;
            let exists: Option<i64> =
                tx.query_row("SELECT 1 FROM sessions WHERE id = ?1", params![id], |r| r.get(0)).optional().map_err(&err)?;
            if exists.is_none() {
                return Err(SessionError::NotFound(id));
            }
            let first: i64 = tx
                .query_row("SELECT COALESCE(MAX(seq), -1) + 1 FROM messages WHERE session_id = ?1", params![id], |r| r.get(0))
                .map_err(&err)?;
            let t = now();
            let kept = messages.iter().filter(|m| matches!(m.role, Role::System | Role::User | Role::Assistant));
            for (seq, m) in (first..).zip(kept) {
                let run = if m.role == Role::Assistant { run_id.clone() } else { None };
                tx.execute(
                    "INSERT INTO messages (session_id, seq, role, content, run_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, seq, m.role.as_str(), m.content, run, t],
                )
                .map_err(&err)?;
            }
            tx.execute("UPDATE sessions SET updated_at = ?2 WHERE id = ?1", params![id, t]).map_err(&err)?;
            tx.commit().map_err(&err)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_persist_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let store = SessionStore::open(&path).unwrap();
        let s = store.create(Some("agent:market_analyst".into()), None).await.unwrap();
        store
            .append(&s.id, vec![Message::user("hi"), Message::assistant("hello")], Some("run1".into()))
            .await
            .unwrap();
        drop(store);
        let store = SessionStore::open(&path).unwrap();
        let d = store.get(&s.id).await.unwrap();
        assert_eq!(d.session.messages, 2);
        assert_eq!(d.history[1].run_id.as_deref(), Some("run1"));
        assert_eq!(
            store.history(&s.id).await.unwrap(),
            vec![Message::user("hi"), Message::assistant("hello")]
        );
        assert_eq!(store.list().await.unwrap().len(), 1);
        assert!(store.delete(&s.id).await.unwrap());
        assert!(!store.delete(&s.id).await.unwrap());
        assert!(matches!(store.get(&s.id).await, Err(SessionError::NotFound(_))));
        assert!(matches!(
            store.append(&s.id, vec![Message::user("x")], None).await,
            Err(SessionError::NotFound(_))
        ));
    }
}
