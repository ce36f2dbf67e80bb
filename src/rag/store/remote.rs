//! A Qdrant server or cluster through qdrant-client (gRPC, port 6334). The collection is
//! created on first use with the same vectors as the embedded store (dense cosine +
//! BM25 sparse with the IDF modifier), the cluster settings passed through (shards,
//! replication factor, write consistency) and payload indexes on the filtered fields.
//! Writes wait for the server and use the configured write ordering.

use std::collections::HashMap;

use async_trait::async_trait;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter as QFilter, Modifier, NamedVectors, PointId,
    PointStruct, PointsIdsList, PrefetchQueryBuilder, Query, QueryPointsBuilder, Range, ScrollPointsBuilder,
    SearchParamsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorParamsBuilder, VectorsConfigBuilder, WriteOrdering, WriteOrderingType, point_id::PointIdOptions,
};
use qdrant_client::{Payload, Qdrant};
use uuid::Uuid;

use super::{
    DATE_FIELD, DENSE, Filter, KEYWORD_FIELDS, Point, SPARSE, ScoredChunk, SearchMode, StoreQuery,
    StoredChunk, VectorStore, parse_payload,
};
use crate::rag::RagError;
use crate::rag::settings::RemoteSettings;

const BACKEND: &str = "qdrant";
const MANIFEST_PAGE: u32 = 10_000;

fn err(reason: impl std::fmt::Display) -> RagError {
    RagError::Store { backend: BACKEND.into(), reason: reason.to_string() }
}

/// One collection of a Qdrant server.
pub struct QdrantStore {
    client: Qdrant,
    url: String,
    collection: String,
    dimension: usize,
    ordering: WriteOrderingType,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore").field("url", &self.url).field("collection", &self.collection).finish()
    }
}

impl QdrantStore {
    /// Connects to `settings.url` and opens (or creates) `collection` for
    /// `dimension`-d vectors.
    pub async fn open(
        settings: &RemoteSettings,
        collection: &str,
        dimension: usize,
    ) -> Result<Self, RagError> {
        let api_key =
            settings.api_key_env.as_ref().and_then(|name| std::env::var(name).ok()).filter(|k| !k.is_empty());
        let client = Qdrant::from_url(&settings.url)
            .api_key(api_key)
            .timeout(std::time::Duration::from_secs(settings.timeout_secs))
            .build()
            .map_err(|e| err(format!("cannot connect to {}: {e}", settings.url)))?;
        let ordering = match settings.write_ordering.as_str() {
            "weak" => WriteOrderingType::Weak,
            "medium" => WriteOrderingType::Medium,
            _ => WriteOrderingType::Strong,
        };
        let store = Self {
            client,
            url: settings.url.clone(),
            collection: collection.to_string(),
            dimension,
            ordering,
        };
        let exists = store
            .client
            .collection_exists(collection)
            .await
            .map_err(|e| err(format!("{}: {e}", settings.url)))?;
        if exists {
            let info = store.client.collection_info(collection).await.map_err(err)?;
            let stored = info
                .result
                .and_then(|r| r.config)
                .and_then(|c| c.params)
                .and_then(|p| p.vectors_config)
                .and_then(|v| match v.config {
                    Some(qdrant_client::qdrant::vectors_config::Config::ParamsMap(m)) => {
                        m.map.get(DENSE).map(|p| p.size as usize)
                    }
                    _ => None,
                });
            if stored != Some(dimension) {
                return Err(RagError::Dimension {
                    store: store.describe(),
                    stored: stored.unwrap_or(0),
                    wanted: dimension,
                });
            }
            return Ok(store);
        }
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(DENSE, VectorParamsBuilder::new(dimension as u64, Distance::Cosine));
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
        );
        let mut create =
            CreateCollectionBuilder::new(collection).vectors_config(vectors).sparse_vectors_config(sparse);
        if let Some(n) = settings.shards {
            create = create.shard_number(n);
        }
        if let Some(n) = settings.replication_factor {
            create = create.replication_factor(n);
        }
        if let Some(n) = settings.write_consistency_factor {
            create = create.write_consistency_factor(n);
        }
        store
            .client
            .create_collection(create)
            .await
            .map_err(|e| err(format!("cannot create {collection}: {e}")))?;
        for field in KEYWORD_FIELDS {
            store
                .client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(collection, *field, FieldType::Keyword).wait(true),
                )
                .await
                .map_err(|e| err(format!("cannot index {field}: {e}")))?;
        }
        store
            .client
            .create_field_index(
                CreateFieldIndexCollectionBuilder::new(collection, DATE_FIELD, FieldType::Integer).wait(true),
            )
            .await
            .map_err(|e| err(format!("cannot index {DATE_FIELD}: {e}")))?;
        Ok(store)
    }

    fn ordering(&self) -> WriteOrdering {
        WriteOrdering { r#type: self.ordering as i32 }
    }
}

fn q_filter(filter: &Filter) -> Option<QFilter> {
    let mut must: Vec<Condition> = filter
        .keyword_conditions()
        .into_iter()
        .map(|(field, values)| Condition::matches(field, values))
        .collect();
    if let Some((from, to)) = filter.date_range() {
        must.push(Condition::range(
            DATE_FIELD,
            Range { gte: from.map(|v| v as f64), lte: to.map(|v| v as f64), ..Range::default() },
        ));
    }
    (!must.is_empty()).then(|| QFilter::must(must))
}

fn uuid_of(id: Option<PointId>) -> Uuid {
    match id.and_then(|p| p.point_id_options) {
        Some(PointIdOptions::Uuid(s)) => Uuid::parse_str(&s).unwrap_or_default(),
        Some(PointIdOptions::Num(n)) => Uuid::from_u64_pair(0, n),
        None => Uuid::nil(),
    }
}

fn json_of(payload: HashMap<String, qdrant_client::qdrant::Value>) -> serde_json::Value {
    serde_json::Value::Object(payload.into_iter().map(|(k, v)| (k, v.into_json())).collect())
}

#[async_trait]
impl VectorStore for QdrantStore {
    fn describe(&self) -> String {
        format!("{BACKEND} {}/{}", self.url, self.collection)
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), RagError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut structs = Vec::with_capacity(points.len());
        for p in points {
            if p.dense.len() != self.dimension {
                return Err(RagError::Dimension {
                    store: self.describe(),
                    stored: self.dimension,
                    wanted: p.dense.len(),
                });
            }
            let vectors = NamedVectors::default()
                .add_vector(DENSE, Vector::new_dense(p.dense))
                .add_vector(SPARSE, Vector::new_sparse(p.sparse.indices, p.sparse.values));
            let payload = Payload::try_from(serde_json::to_value(&p.payload).map_err(err)?).map_err(err)?;
            structs.push(PointStruct::new(p.id.to_string(), vectors, payload));
        }
        self.client
            .upsert_points(
                UpsertPointsBuilder::new(&self.collection, structs).wait(true).ordering(self.ordering()),
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete(&self, filter: &Filter) -> Result<(), RagError> {
        let Some(filter) = q_filter(filter) else {
            return Err(err("refusing to delete with an empty filter"));
        };
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true)
                    .ordering(self.ordering()),
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete_ids(&self, ids: &[Uuid]) -> Result<(), RagError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = PointsIdsList { ids: ids.iter().map(|u| PointId::from(u.to_string())).collect() };
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection).points(ids).wait(true).ordering(self.ordering()),
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn manifest(&self) -> Result<Vec<StoredChunk>, RagError> {
        let mut out = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .limit(MANIFEST_PAGE)
                .with_payload(qdrant_client::qdrant::PayloadIncludeSelector {
                    fields: ["doc_id", "doc_hash", "source", "chunk_count"].map(String::from).to_vec(),
                })
                .with_vectors(false);
            if let Some(o) = offset.take() {
                request = request.offset(o);
            }
            let page = self.client.scroll(request).await.map_err(err)?;
            for point in page.result {
                let map = json_of(point.payload);
                let text = |k: &str| map.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                out.push(StoredChunk {
                    id: uuid_of(point.id),
                    doc_id: text("doc_id"),
                    doc_hash: text("doc_hash"),
                    source: text("source"),
                    chunk_count: map.get("chunk_count").and_then(|v| v.as_u64()).unwrap_or(0) as usize,
                });
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn search(&self, query: &StoreQuery) -> Result<Vec<ScoredChunk>, RagError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = q_filter(&query.filter);
        let mut params = SearchParamsBuilder::default().exact(query.exact);
        if let Some(ef) = query.hnsw_ef {
            params = params.hnsw_ef(ef as u64);
        }
        let sparse_pairs: Vec<(u32, f32)> =
            query.sparse.indices.iter().copied().zip(query.sparse.values.iter().copied()).collect();
        let prefetch_limit = query.prefetch.max(query.limit) as u64;
        let mut request =
            QueryPointsBuilder::new(&self.collection).limit(query.limit as u64).with_payload(true);
        if let Some(f) = &filter {
            request = request.filter(f.clone());
        }
        let dense = || Query::new_nearest(query.dense.clone());
        let sparse = || Query::new_nearest(sparse_pairs.as_slice());
        request = match query.mode {
            SearchMode::Dense => request.query(dense()).using(DENSE).params(params),
            SearchMode::Sparse if sparse_pairs.is_empty() => return Ok(Vec::new()),
            SearchMode::Sparse => request.query(sparse()).using(SPARSE),
            SearchMode::Hybrid if sparse_pairs.is_empty() => {
                request.query(dense()).using(DENSE).params(params)
            }
            SearchMode::Hybrid => {
                let mut d = PrefetchQueryBuilder::default()
                    .query(dense())
                    .using(DENSE)
                    .limit(prefetch_limit)
                    .params(params);
                let mut s =
                    PrefetchQueryBuilder::default().query(sparse()).using(SPARSE).limit(prefetch_limit);
                if let Some(f) = &filter {
                    d = d.filter(f.clone());
                    s = s.filter(f.clone());
                }
                let rrf = qdrant_client::qdrant::Rrf { k: Some(query.rrf_k as u32), weights: Vec::new() };
                request.add_prefetch(d).add_prefetch(s).query(Query::new_rrf(rrf))
            }
        };
        let response = self.client.query(request).await.map_err(err)?;
        response
            .result
            .into_iter()
            .map(|p| {
                let id = uuid_of(p.id);
                Ok(ScoredChunk {
                    id,
                    score: p.score,
                    payload: parse_payload(&id.to_string(), json_of(p.payload))?,
                })
            })
            .collect()
    }

    async fn count(&self, filter: &Filter) -> Result<usize, RagError> {
        let mut request = CountPointsBuilder::new(&self.collection).exact(true);
        if let Some(f) = q_filter(filter) {
            request = request.filter(f);
        }
        let response = self.client.count(request).await.map_err(err)?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }

    async fn flush(&self) -> Result<(), RagError> {
        // Writes already waited for the server (`wait: true`).
        Ok(())
    }

    async fn optimize(&self) -> Result<(), RagError> {
        // The server's optimizers build indexes in the background.
        Ok(())
    }
}
