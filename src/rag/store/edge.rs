//! The embedded store: one qdrant-edge shard in a directory (by default
//! `BULLPEN_HOME/indexes/<collection>/`), opened by one process at a time (an exclusive
//! lock on `<dir>.lock`). qdrant-edge is synchronous: every call runs on tokio's blocking
//! pool, writes one at a time. Its HNSW index is built by [`VectorStore::optimize`] only,
//! so bulk ingestion optimises once at the end; before that, dense search scans.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    AnyVariants, Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard,
    EdgeSparseVectorParams, EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter as EdgeFilter,
    Fusion, JsonPath, Match, Modifier, NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStruct, Prefetch, QueryEnum, QueryRequest, Range,
    ScoringQuery, ScrollRequest, SearchParams, SparseVector, UpdateOperation, ValueVariants, Vector,
    VectorInternal, Vectors, WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::{
    DATE_FIELD, DENSE, Filter, KEYWORD_FIELDS, Point, SPARSE, ScoredChunk, SearchMode, StoreQuery,
    StoredChunk, VectorStore, parse_payload,
};
use crate::rag::RagError;

const BACKEND: &str = "qdrant-edge";
const MANIFEST_PAGE: usize = 10_000;

fn err(reason: impl std::fmt::Display) -> RagError {
    RagError::Store { backend: BACKEND.into(), reason: reason.to_string() }
}

/// A qdrant-edge shard.
pub struct EdgeStore {
    dir: PathBuf,
    dimension: usize,
    shard: Arc<EdgeShard>,
    /// Serialises writes, flushes and optimisation (qdrant-edge's flush must not race a write).
    writer: Arc<Mutex<()>>,
    /// Held for the life of the store: one process per directory.
    _lock: File,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore").field("dir", &self.dir).field("dimension", &self.dimension).finish()
    }
}

impl EdgeStore {
    /// Opens the store in `dir`, creating it for `dimension`-d vectors when it does not
    /// exist. An existing store with another dimension is an error (use another
    /// collection for another embedding model).
    pub async fn open(dir: &Path, dimension: usize) -> Result<Self, RagError> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, dimension))
            .await
            .map_err(|e| err(format!("open task failed: {e}")))?
    }

    fn open_blocking(dir: &Path, dimension: usize) -> Result<Self, RagError> {
        let io = |what: &str, e: std::io::Error| err(format!("{what} {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", e))?;
        let lock_path = lock_path(dir);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io("cannot open the lock of", e))?;
        lock.try_lock().map_err(|_| RagError::Busy { path: dir.to_path_buf() })?;

        let existing = dir.join("edge_config.json").is_file() || dir.join("segments").is_dir();
        let shard = if existing {
            let shard =
                EdgeShard::load(dir, None).map_err(|e| err(format!("cannot open {}: {e}", dir.display())))?;
            let stored = shard.config().vectors.get(DENSE).map(|v| v.size);
            if stored != Some(dimension) {
                return Err(RagError::Dimension {
                    store: dir.display().to_string(),
                    stored: stored.unwrap_or(0),
                    wanted: dimension,
                });
            }
            shard
        } else {
            let config = EdgeConfig::builder()
                .vector(DENSE, EdgeVectorParams::builder(dimension, Distance::Cosine).build())
                .sparse_vector(SPARSE, EdgeSparseVectorParams::builder().modifier(Modifier::Idf).build())
                .on_disk_payload(true)
                .build();
            let shard = EdgeShard::new(dir, config)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            for field in KEYWORD_FIELDS {
                create_index(&shard, field, PayloadSchemaType::Keyword)?;
            }
            create_index(&shard, DATE_FIELD, PayloadSchemaType::Integer)?;
            shard.flush();
            shard
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            dimension,
            shard: Arc::new(shard),
            writer: Arc::default(),
            _lock: lock,
        })
    }

    /// The shard's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` on the blocking pool with the shard.
    async fn blocking<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&EdgeShard) -> Result<T, RagError> + Send + 'static,
    ) -> Result<T, RagError> {
        let shard = self.shard.clone();
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let _guard =
                if write { Some(writer.lock().map_err(|_| err("a writer panicked"))?) } else { None };
            f(&shard)
        })
        .await
        .map_err(|e| err(format!("task failed: {e}")))?
    }
}

/// The lock file beside a store directory.
pub fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    dir.with_file_name(name)
}

/// A payload key as a JSON path (our keys are plain identifiers).
fn path(field: &str) -> Result<JsonPath, RagError> {
    field.parse().map_err(|_| err(format!("invalid payload key `{field}`")))
}

fn create_index(shard: &EdgeShard, field: &str, kind: PayloadSchemaType) -> Result<(), RagError> {
    shard
        .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
            field_name: path(field)?,
            field_schema: Some(PayloadFieldSchema::FieldType(kind)),
        })))
        .map_err(|e| err(format!("cannot index payload field {field}: {e}")))
}

/// Our filter as a qdrant-edge filter (`None` when empty).
fn edge_filter(filter: &Filter) -> Result<Option<EdgeFilter>, RagError> {
    let mut must: Vec<Condition> = Vec::new();
    for (field, values) in filter.keyword_conditions() {
        let m = if values.len() == 1 {
            Match::new_value(ValueVariants::String(values.into_iter().next().unwrap_or_default()))
        } else {
            Match::new_any(AnyVariants::Strings(values.into_iter().collect()))
        };
        must.push(Condition::Field(FieldCondition::new_match(path(field)?, m)));
    }
    if let Some((from, to)) = filter.date_range() {
        let range = Range {
            lt: None,
            gt: None,
            gte: from.map(|v| OrderedFloat(v as f64)),
            lte: to.map(|v| OrderedFloat(v as f64)),
        };
        must.push(Condition::Field(FieldCondition::new_range(path(DATE_FIELD)?, range)));
    }
    Ok((!must.is_empty()).then(|| EdgeFilter {
        should: None,
        min_should: None,
        must: Some(must),
        must_not: None,
    }))
}

fn uuid_of(id: &PointId) -> Uuid {
    match id {
        PointId::Uuid(u) => *u,
        PointId::NumId(n) => Uuid::from_u64_pair(0, *n),
    }
}

fn nearest(vector: VectorInternal, using: &str) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery { query: vector, using: Some(using.to_string()) }))
}

#[async_trait]
impl VectorStore for EdgeStore {
    fn describe(&self) -> String {
        format!("{BACKEND} {}", self.dir.display())
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), RagError> {
        if points.is_empty() {
            return Ok(());
        }
        let dimension = self.dimension;
        let mut structs = Vec::with_capacity(points.len());
        for p in points {
            if p.dense.len() != dimension {
                return Err(RagError::Dimension {
                    store: self.describe(),
                    stored: dimension,
                    wanted: p.dense.len(),
                });
            }
            let sparse = Vector::new_sparse(p.sparse.indices, p.sparse.values).map_err(err)?;
            let vectors = Vectors::new_named([(DENSE, Vector::new_dense(p.dense)), (SPARSE, sparse)]);
            let payload = serde_json::to_value(&p.payload).map_err(err)?;
            structs.push(PointStruct::new(PointId::Uuid(p.id), vectors, payload).into());
        }
        self.blocking(true, move |shard| {
            shard
                .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                    PointInsertOperations::PointsList(structs),
                )))
                .map_err(err)
        })
        .await
    }

    async fn delete(&self, filter: &Filter) -> Result<(), RagError> {
        let Some(filter) = edge_filter(filter)? else {
            return Err(err("refusing to delete with an empty filter"));
        };
        self.blocking(true, move |shard| {
            shard
                .update(UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter)))
                .map_err(err)
        })
        .await
    }

    async fn delete_ids(&self, ids: &[Uuid]) -> Result<(), RagError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<PointId> = ids.iter().map(|u| PointId::Uuid(*u)).collect();
        self.blocking(true, move |shard| {
            shard.update(UpdateOperation::PointOperation(PointOperations::DeletePoints { ids })).map_err(err)
        })
        .await
    }

    async fn manifest(&self) -> Result<Vec<StoredChunk>, RagError> {
        self.blocking(false, |shard| {
            let fields = ["doc_id", "doc_hash", "source", "chunk_count"]
                .into_iter()
                .map(path)
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::new();
            let mut offset = None;
            loop {
                let (records, next) = shard
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(MANIFEST_PAGE),
                        filter: None,
                        with_payload: Some(WithPayloadInterface::Fields(fields.clone())),
                        with_vector: WithVector::Bool(false),
                        order_by: None,
                    })
                    .map_err(err)?;
                for r in records {
                    let map = r.payload.map(|p| p.0).unwrap_or_default();
                    let text = |k: &str| map.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                    out.push(StoredChunk {
                        id: uuid_of(&r.id),
                        doc_id: text("doc_id"),
                        doc_hash: text("doc_hash"),
                        source: text("source"),
                        chunk_count: map.get("chunk_count").and_then(|v| v.as_u64()).unwrap_or(0) as usize,
                    });
                }
                match next {
                    Some(n) => offset = Some(n),
                    None => return Ok(out),
                }
            }
        })
        .await
    }

    async fn search(&self, query: &StoreQuery) -> Result<Vec<ScoredChunk>, RagError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = edge_filter(&query.filter)?;
        let params =
            Some(SearchParams { hnsw_ef: query.hnsw_ef, exact: query.exact, ..SearchParams::default() });
        let dense = nearest(VectorInternal::Dense(query.dense.clone()), DENSE);
        let sparse = nearest(
            VectorInternal::Sparse(SparseVector {
                indices: query.sparse.indices.clone(),
                values: query.sparse.values.clone(),
            }),
            SPARSE,
        );
        let prefetch = |q: ScoringQuery, p: Option<SearchParams>| Prefetch {
            prefetches: vec![],
            query: Some(q),
            limit: query.prefetch.max(query.limit),
            params: p,
            filter: filter.clone(),
            score_threshold: None,
        };
        let (prefetches, scoring, top_params) = match query.mode {
            SearchMode::Dense => (vec![], dense, params),
            // A query of stop words only has no sparse terms: nothing matches it.
            SearchMode::Sparse if query.sparse.is_empty() => return Ok(Vec::new()),
            SearchMode::Sparse => (vec![], sparse, None),
            SearchMode::Hybrid if query.sparse.is_empty() => (vec![], dense, params),
            SearchMode::Hybrid => (
                vec![prefetch(dense, params), prefetch(sparse, None)],
                ScoringQuery::Fusion(Fusion::Rrf { k: query.rrf_k, weights: None }),
                None,
            ),
        };
        let request = QueryRequest {
            prefetches,
            query: Some(scoring),
            filter: filter.clone(),
            score_threshold: None,
            limit: query.limit,
            offset: 0,
            params: top_params,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(true),
        };
        self.blocking(false, move |shard| {
            let points = shard.query(request).map_err(err)?;
            points
                .into_iter()
                .map(|p| {
                    let id = uuid_of(&p.id);
                    let payload = serde_json::Value::Object(p.payload.map(|p| p.0).unwrap_or_default());
                    Ok(ScoredChunk { id, score: p.score, payload: parse_payload(&id.to_string(), payload)? })
                })
                .collect()
        })
        .await
    }

    async fn count(&self, filter: &Filter) -> Result<usize, RagError> {
        let filter = edge_filter(filter)?;
        self.blocking(false, move |shard| shard.count(CountRequest { filter, exact: true }).map_err(err))
            .await
    }

    async fn flush(&self) -> Result<(), RagError> {
        self.blocking(true, |shard| {
            shard.flush();
            Ok(())
        })
        .await
    }

    async fn optimize(&self) -> Result<(), RagError> {
        self.blocking(true, |shard| {
            shard.optimize().map_err(err)?;
            shard.flush();
            Ok(())
        })
        .await
    }
}
