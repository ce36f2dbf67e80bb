//! Sentence embeddings for BERT-family models (MiniLM, BGE-small, …) with candle and the
//! tokenizers crate.
//!
//! The pipeline reproduces sentence-transformers' `Transformer → Pooling(mean) → Normalize`:
//! tokenize (truncating to `max_length` tokens, special tokens included), run the BERT
//! encoder, average the last hidden states over the attention mask, L2-normalise.
//!
//! Texts are tokenized once, sorted by token count (longest first, as sentence-transformers
//! does) and cut into batches of `batch_size`; each batch is padded to its longest member
//! (`BatchLongest`), so padding stays small, and the vectors are returned in input order.
//! Padded positions are masked out of attention and pooling, so a text's vector does not
//! depend on the batch it is in (up to float rounding).
//!
//! The encoder is a small inference-only BERT on candle ops (same weights and maths as
//! `candle_transformers`' `BertModel`) with a fused QKV projection and a vectorised GELU;
//! `benches/run_embed.sh` compares it with sentence-transformers.
//!
//! Threads: the forward pass runs in candle's CPU thread pool (`Device::with_context`), one
//! thread per physical core by default; `RAYON_NUM_THREADS` (matmuls, GELU) and
//! `CANDLE_NUM_THREADS` (other element-wise kernels) override it. Both are read once per
//! process. [`Embedder::embed`] runs on tokio's blocking pool so it never stalls the async
//! runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Tensor};
use candle_nn::ops::softmax_last_dim;
use candle_nn::{LayerNorm, Linear, Module, VarBuilder, layer_norm, linear};
use candle_transformers::models::bert::{Config, HiddenAct};
use tokenizers::utils::padding::{PaddingDirection, PaddingParams, PaddingStrategy, pad_encodings};
use tokenizers::utils::truncation::{TruncationDirection, TruncationParams, TruncationStrategy};
use tokenizers::{Encoding, PostProcessor, Tokenizer};

use super::{Embedder, Embeddings, LlmError};

/// The files a model directory must hold.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

const PROVIDER: &str = "candle";

/// A BERT-family sentence embedding model loaded in this process.
///
/// Cheap to share: the model and tokenizer sit behind an [`Arc`], and concurrent
/// [`embed`](Embedder::embed) calls run in parallel on tokio's blocking pool.
#[derive(Clone)]
pub struct CandleEmbedder {
    name: String,
    inner: Arc<Inner>,
}

struct Inner {
    model: Bert,
    tokenizer: Tokenizer,
    padding: PaddingParams,
    device: Device,
    dimension: usize,
    batch_size: usize,
    max_length: usize,
}

impl std::fmt::Debug for CandleEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandleEmbedder")
            .field("name", &self.name)
            .field("dimension", &self.inner.dimension)
            .field("batch_size", &self.inner.batch_size)
            .field("max_length", &self.inner.max_length)
            .finish_non_exhaustive()
    }
}

impl CandleEmbedder {
    /// Load a model from `dir`, which must hold `config.json` (a BERT config),
    /// `model.safetensors` (memory-mapped) and `tokenizer.json`.
    ///
    /// `name` is what [`Embedder::name`] reports; `batch_size` texts go through one forward
    /// pass; inputs are truncated to `max_length` tokens (special tokens included, at most
    /// the model's `max_position_embeddings`).
    ///
    /// This reads and maps files: from async code prefer [`CandleEmbedder::load_async`].
    pub fn load(dir: &Path, name: &str, batch_size: usize, max_length: usize) -> Result<Self, LlmError> {
        let load_err = |reason: String| LlmError::Load { model: name.to_string(), reason };
        if batch_size == 0 {
            return Err(load_err("batch_size must be at least 1".to_string()));
        }
        if !dir.is_dir() {
            return Err(load_err(format!("model directory {} does not exist", dir.display())));
        }
        let missing: Vec<&str> = [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE]
            .into_iter()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(load_err(format!(
                "{} missing {} (a BERT model directory needs {CONFIG_FILE}, {WEIGHTS_FILE} and {TOKENIZER_FILE})",
                dir.display(),
                missing.join(", ")
            )));
        }

        let config_path = dir.join(CONFIG_FILE);
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|e| load_err(format!("cannot read {}: {e}", config_path.display())))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| load_err(format!("{} is not a valid BERT config: {e}", config_path.display())))?;

        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| load_err(format!("{} is not a valid tokenizer: {e}", tokenizer_path.display())))?;
        let special = tokenizer.get_post_processor().map_or(0, |p| p.added_tokens(false));
        if max_length <= special || max_length > config.max_position_embeddings {
            return Err(load_err(format!(
                "max_length {max_length} must be between {} and the model's max_position_embeddings ({})",
                special + 1,
                config.max_position_embeddings
            )));
        }
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| load_err(format!("cannot truncate to {max_length} tokens: {e}")))?;
        // Padding is applied per batch (see `Inner::embed`), not on every encode.
        let padding = padding_params(&tokenizer, &config);
        tokenizer.with_padding(None);

        let device = Device::Cpu;
        let weights_path = dir.join(WEIGHTS_FILE);
        // SAFETY: the file is memory-mapped read-only; it must not be modified while the
        // model loads. The model store installs files atomically and never rewrites them.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &device) }
            .map_err(|e| load_err(format!("cannot read {}: {e}", weights_path.display())))?;
        let model = Bert::load(vb, &config).map_err(|e| {
            load_err(format!(
                "{} does not match the BERT model described by {}: {e}",
                weights_path.display(),
                config_path.display()
            ))
        })?;

        tracing::debug!(
            model = name,
            dir = %dir.display(),
            dimension = config.hidden_size,
            layers = config.num_hidden_layers,
            batch_size,
            max_length,
            threads = candle_core::utils::get_num_threads(),
            "loaded embedding model"
        );
        Ok(Self {
            name: name.to_string(),
            inner: Arc::new(Inner {
                model,
                tokenizer,
                padding,
                device,
                dimension: config.hidden_size,
                batch_size,
                max_length,
            }),
        })
    }

    /// [`CandleEmbedder::load`] on tokio's blocking pool.
    pub async fn load_async(
        dir: PathBuf,
        name: String,
        batch_size: usize,
        max_length: usize,
    ) -> Result<Self, LlmError> {
        let model = name.clone();
        tokio::task::spawn_blocking(move || Self::load(&dir, &name, batch_size, max_length))
            .await
            .map_err(|e| LlmError::Load { model, reason: format!("loading task failed: {e}") })?
    }

    /// Texts per forward pass.
    pub fn batch_size(&self) -> usize {
        self.inner.batch_size
    }

    /// Inputs are truncated to this many tokens (special tokens included).
    pub fn max_length(&self) -> usize {
        self.inner.max_length
    }

    /// Threads of candle's CPU pool (process-wide: `RAYON_NUM_THREADS`, else the physical
    /// cores).
    pub fn threads(&self) -> usize {
        candle_core::utils::get_num_threads()
    }

    /// Embed on the calling thread (blocking: it runs the model). For synchronous callers
    /// such as benchmarks; async code uses [`Embedder::embed`].
    pub fn embed_blocking<S: AsRef<str>>(&self, texts: &[S]) -> Result<Embeddings, LlmError> {
        self.inner.embed(texts)
    }
}

#[async_trait]
impl Embedder for CandleEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn tokenizer(&self) -> Option<Tokenizer> {
        Some(self.inner.tokenizer.clone())
    }

    fn max_input_tokens(&self) -> Option<usize> {
        Some(self.inner.max_length)
    }

    fn dimension(&self) -> usize {
        self.inner.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, LlmError> {
        if texts.is_empty() {
            return Ok(Embeddings { vectors: Vec::new(), prompt_tokens: 0 });
        }
        let inner = Arc::clone(&self.inner);
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || inner.embed(&texts))
            .await
            .map_err(|e| provider_err(format!("embedding task failed: {e}")))?
    }
}

impl Inner {
    fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Embeddings, LlmError> {
        if texts.is_empty() {
            return Ok(Embeddings { vectors: Vec::new(), prompt_tokens: 0 });
        }
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| provider_err(format!("tokenization: {e}")))?;
        let prompt_tokens = encodings.iter().map(|e| e.get_ids().len()).sum::<usize>();

        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
        for batch in length_sorted_batches(&encodings, self.batch_size) {
            let mut batch_encodings: Vec<Encoding> = batch.iter().map(|&i| encodings[i].clone()).collect();
            pad_encodings(&mut batch_encodings, &self.padding)
                .map_err(|e| provider_err(format!("padding: {e}")))?;
            let out = self.device.with_context(|| self.forward(&batch_encodings)).map_err(candle_err)?;
            if out.len() != batch.len() {
                return Err(provider_err(format!("expected {} vectors, got {}", batch.len(), out.len())));
            }
            for (i, v) in batch.into_iter().zip(out) {
                vectors[i] = v;
            }
        }
        tracing::trace!(texts = texts.len(), prompt_tokens, "embedded");
        Ok(Embeddings { vectors, prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX) })
    }

    /// One forward pass over equally long (padded) encodings.
    fn forward(&self, batch: &[Encoding]) -> candle_core::Result<Vec<Vec<f32>>> {
        let n = batch.len();
        let len = batch.first().map_or(0, |e| e.get_ids().len());
        let (mut ids, mut types, mut mask) =
            (Vec::with_capacity(n * len), Vec::with_capacity(n * len), Vec::with_capacity(n * len));
        for e in batch {
            if e.get_ids().len() != len {
                candle_core::bail!("batch not padded: lengths {} and {len}", e.get_ids().len());
            }
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let types = Tensor::from_vec(types, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let padded = batch.iter().any(|e| e.get_attention_mask().contains(&0));
        let hidden = self.model.forward(&ids, &types, &mask, padded)?;
        mean_pool_normalize(&hidden, &mask)?.to_vec2::<f32>()
    }
}

/// The BERT encoder (Hugging Face `BertModel` without the pooler), inference only.
///
/// Same weights and maths as `candle_transformers::models::bert::BertModel`, arranged for
/// CPU throughput: one fused QKV projection with the 1/√d attention scale folded into the
/// query weights, candle's fused last-dimension softmax, and no mask when a batch has no
/// padding.
struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
    layers: Vec<BertLayer>,
    heads: usize,
    head_dim: usize,
    hidden_act: HiddenAct,
}

struct BertLayer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    inter: Linear,
    out: Linear,
    out_norm: LayerNorm,
}

impl Bert {
    fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<Self> {
        // Checkpoints saved from `BertForMaskedLM` & co. nest the encoder under `bert.`.
        let vb =
            if vb.contains_tensor("bert.embeddings.word_embeddings.weight") { vb.pp("bert") } else { vb };
        let h = c.hidden_size;
        if c.num_attention_heads == 0 || !h.is_multiple_of(c.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {h} is not a multiple of num_attention_heads {}",
                c.num_attention_heads
            );
        }
        let head_dim = h / c.num_attention_heads;
        let e = vb.pp("embeddings");
        let word = e.get((c.vocab_size, h), "word_embeddings.weight")?;
        let position = e.get((c.max_position_embeddings, h), "position_embeddings.weight")?;
        let token_type = e.get((c.type_vocab_size, h), "token_type_embeddings.weight")?;
        let norm = layer_norm(h, c.layer_norm_eps, e.pp("LayerNorm"))?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention.self");
            let (qw, qb) = ((a.get((h, h), "query.weight")? * scale)?, (a.get(h, "query.bias")? * scale)?);
            let (kw, kb) = (a.get((h, h), "key.weight")?, a.get(h, "key.bias")?);
            let (vw, vb_) = (a.get((h, h), "value.weight")?, a.get(h, "value.bias")?);
            let qkv = Linear::new(Tensor::cat(&[qw, kw, vw], 0)?, Some(Tensor::cat(&[qb, kb, vb_], 0)?));
            layers.push(BertLayer {
                qkv,
                attn_out: linear(h, h, l.pp("attention.output.dense"))?,
                attn_norm: layer_norm(h, c.layer_norm_eps, l.pp("attention.output.LayerNorm"))?,
                inter: linear(h, c.intermediate_size, l.pp("intermediate.dense"))?,
                out: linear(c.intermediate_size, h, l.pp("output.dense"))?,
                out_norm: layer_norm(h, c.layer_norm_eps, l.pp("output.LayerNorm"))?,
            });
        }
        Ok(Self {
            word,
            position,
            token_type,
            norm,
            layers,
            heads: c.num_attention_heads,
            head_dim,
            hidden_act: c.hidden_act,
        })
    }

    /// Last hidden states (batch, tokens, hidden) of `ids` / `types` / `mask` (batch, tokens).
    fn forward(
        &self,
        ids: &Tensor,
        types: &Tensor,
        mask: &Tensor,
        padded: bool,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = self.heads * self.head_dim;
        let x = self.word.index_select(&ids.flatten_all()?, 0)?;
        let x = (x + self.token_type.index_select(&types.flatten_all()?, 0)?)?;
        let x = x.reshape((b, t, h))?.broadcast_add(&self.position.narrow(0, 0, t)?)?;
        let mut x = self.norm.forward(&x.reshape((b * t, h))?)?;
        // 0 where attended, f32::MIN on padding, as transformers' extended attention mask.
        let mask = if padded {
            let min = f64::from(f32::MIN);
            Some(mask.to_dtype(DType::F32)?.affine(-min, min)?.reshape((b, 1, 1, t))?)
        } else {
            None
        };
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let qkv =
                qkv.reshape((b, t, 3, self.heads, self.head_dim))?.permute((2, 0, 3, 1, 4))?.contiguous()?;
            let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
            let scores = q.matmul(&k.t()?)?;
            let scores = match &mask {
                Some(mask) => scores.broadcast_add(mask)?,
                None => scores,
            };
            let context = softmax_last_dim(&scores)?.matmul(&v)?;
            let context = context.transpose(1, 2)?.contiguous()?.reshape((b * t, h))?;
            let attended = layer.attn_norm.forward(&(layer.attn_out.forward(&context)? + &x)?)?;
            let inter = layer.inter.forward(&attended)?;
            let inter = match self.hidden_act {
                HiddenAct::Gelu => {
                    inter.inplace_op1(&GeluErf)?;
                    inter
                }
                HiddenAct::GeluApproximate => inter.gelu()?,
                HiddenAct::Relu => inter.relu()?,
            };
            x = layer.out_norm.forward(&(layer.out.forward(&inter)? + attended)?)?;
        }
        x.reshape((b, t, h))
    }
}

/// GELU in its exact (erf) form, `x/2 · (1 + erf(x/√2))`, computed in place.
///
/// candle's `gelu_erf` calls the scalar libm `erff` for every element, a fifth of MiniLM's
/// time on CPU. This evaluates erf with the rational approximation used by Eigen and XLA
/// (exactly ±1 past |z| = 3.85, where f32 erf rounds to ±1; elsewhere within a few f32 ulps
/// of libm, far below the model's own float noise) in a branch-free loop the compiler
/// vectorises, split over candle's thread count.
struct GeluErf;

/// Below this many elements a single thread does the whole tensor.
const GELU_MIN_CHUNK: usize = 1 << 14;

impl InplaceOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "bullpen-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{}: only f32 tensors are supported", self.name());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{}: the tensor must be contiguous", self.name());
        };
        let Some(data) = data.get_mut(start..end) else {
            candle_core::bail!("{}: layout {start}..{end} outside the storage", self.name());
        };
        let threads = candle_core::utils::get_num_threads().max(1);
        let chunk = data.len().div_ceil(threads).max(GELU_MIN_CHUNK);
        if chunk >= data.len() {
            gelu_erf_slice(data);
            return Ok(());
        }
        std::thread::scope(|scope| {
            let mut chunks = data.chunks_mut(chunk);
            let first = chunks.next();
            for rest in chunks {
                scope.spawn(move || gelu_erf_slice(rest));
            }
            if let Some(first) = first {
                gelu_erf_slice(first);
            }
        });
        Ok(())
    }
}

fn gelu_erf_slice(xs: &mut [f32]) {
    for x in xs {
        *x = gelu_erf(*x);
    }
}

/// `x/2 · (1 + erf(x/√2))` with erf(z) ≈ z·P(z²)/Q(z²).
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    // Eigen's `generic_fast_erf_float` coefficients (also XLA's and TVM's).
    const P: [f32; 7] = [
        -2.726_142_258_013_06e-10_f64 as f32,
        2.770_681_424_959_02e-8_f64 as f32,
        -2.101_024_020_825_08e-6_f64 as f32,
        -5.692_506_394_623_46e-5_f64 as f32,
        -7.349_906_303_268_55e-4_f64 as f32,
        -2.954_599_808_540_25e-3_f64 as f32,
        -1.609_603_332_624_15e-2_f64 as f32,
    ];
    const Q: [f32; 5] = [
        -1.456_607_184_649_96e-5_f64 as f32,
        -2.133_740_552_789_05e-4_f64 as f32,
        -1.682_826_974_382_03e-3_f64 as f32,
        -7.373_329_167_204_68e-3_f64 as f32,
        -1.426_473_905_141_89e-2_f64 as f32,
    ];
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).clamp(-4.0, 4.0);
    let z2 = z * z;
    let p = P.iter().fold(0.0, |acc, &c| acc * z2 + c);
    let q = Q.iter().fold(0.0, |acc, &c| acc * z2 + c);
    // Past |z| = 3.85, erf rounds to ±1 in f32: return it exactly, so that large negative
    // inputs give 0 rather than the approximation's 6e-8 residue times x.
    let erf = if z.abs() > 3.85 { z.signum() } else { (z * p / q).clamp(-1.0, 1.0) };
    0.5 * x * (1.0 + erf)
}

/// Mean of `hidden` (batch, tokens, dim) over the tokens where `mask` (batch, tokens) is 1,
/// then L2-normalised: sentence-transformers' `Pooling(mean)` + `Normalize`.
pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // Same guards as sentence-transformers (clamp(min=1e-9)) and torch's F.normalize (eps 1e-12).
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norms)
}

/// Padded tokens per forward pass at most: attention scores grow with batch × length², and
/// past this they no longer fit the CPU caches (measured on MiniLM: 200-token chunks embed
/// 1.5× faster in batches of 8 than of 64; 30-token sentences are as fast in 64s).
const TOKENS_PER_PASS: usize = 2048;

/// Indices of `encodings` grouped in batches of at most `batch_size` texts and
/// [`TOKENS_PER_PASS`] padded tokens (one text at least), longest first, so each batch pads
/// to a similar length.
fn length_sorted_batches(encodings: &[Encoding], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    // Stable: equal lengths keep input order, so results are deterministic.
    order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
    let mut batches = Vec::new();
    let mut rest = order.as_slice();
    while let Some(&first) = rest.first() {
        // Sorted longest first: the first text's length is the batch's padded length.
        let longest = encodings[first].get_ids().len().max(1);
        let n = (TOKENS_PER_PASS / longest).clamp(1, batch_size.max(1)).min(rest.len());
        batches.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    batches
}

/// `BatchLongest` padding with the tokenizer's pad token (or `[PAD]`, or the config's id).
fn padding_params(tokenizer: &Tokenizer, config: &Config) -> PaddingParams {
    let base = tokenizer.get_padding().cloned().unwrap_or_else(|| {
        let pad_token = "[PAD]".to_string();
        let pad_id = tokenizer
            .token_to_id(&pad_token)
            .unwrap_or_else(|| u32::try_from(config.pad_token_id).unwrap_or_default());
        PaddingParams { pad_id, pad_token, ..PaddingParams::default() }
    });
    PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        direction: PaddingDirection::Right,
        pad_to_multiple_of: None,
        ..base
    }
}

fn provider_err(reason: String) -> LlmError {
    LlmError::Provider { provider: PROVIDER.to_string(), reason }
}

fn candle_err(e: candle_core::Error) -> LlmError {
    provider_err(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_err(dir: &Path) -> String {
        match CandleEmbedder::load(dir, "test-model", 8, 128) {
            Ok(_) => panic!("loading {} should fail", dir.display()),
            Err(e @ LlmError::Load { .. }) => e.to_string(),
            Err(e) => panic!("expected a Load error, got {e:?}"),
        }
    }

    const TINY_CONFIG: &str = r#"{
        "vocab_size": 16, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "max_position_embeddings": 32, "type_vocab_size": 2, "initializer_range": 0.02,
        "layer_norm_eps": 1e-12, "pad_token_id": 0, "model_type": "bert"
    }"#;

    #[test]
    fn missing_directory_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nope");
        let msg = load_err(&dir);
        assert!(
            msg.contains("test-model") && msg.contains("does not exist") && msg.contains("nope"),
            "{msg}"
        );
    }

    #[test]
    fn missing_files_are_listed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(CONFIG_FILE), TINY_CONFIG).unwrap();
        let msg = load_err(tmp.path());
        assert!(msg.contains("missing model.safetensors, tokenizer.json"), "{msg}");
        assert!(!msg.contains("missing config.json"), "{msg}");
    }

    #[test]
    fn invalid_config_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        for (f, body) in [(CONFIG_FILE, "{\"hidden_size\": 8}"), (WEIGHTS_FILE, ""), (TOKENIZER_FILE, "{}")] {
            std::fs::write(tmp.path().join(f), body).unwrap();
        }
        let msg = load_err(tmp.path());
        assert!(msg.contains("config.json is not a valid BERT config"), "{msg}");
    }

    #[test]
    fn invalid_tokenizer_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        for (f, body) in
            [(CONFIG_FILE, TINY_CONFIG), (WEIGHTS_FILE, ""), (TOKENIZER_FILE, "{\"version\": 1}")]
        {
            std::fs::write(tmp.path().join(f), body).unwrap();
        }
        let msg = load_err(tmp.path());
        assert!(msg.contains("tokenizer.json is not a valid tokenizer"), "{msg}");
    }

    #[test]
    fn zero_batch_size_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let err = CandleEmbedder::load(tmp.path(), "m", 0, 128).unwrap_err();
        assert!(err.to_string().contains("batch_size must be at least 1"), "{err}");
    }

    #[test]
    fn mean_pooling_ignores_padding_and_normalises() {
        // Two sequences of 3 tokens, dim 2; the second has one padded token holding garbage.
        let hidden = Tensor::new(
            &[[[1f32, 0.], [3., 0.], [0., 4.]], [[0., 2.], [0., 4.], [100., -100.]]],
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1], [1, 1, 0]], &Device::Cpu).unwrap();
        let out = mean_pool_normalize(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
        // Means: [4/3, 4/3] -> [1/√2, 1/√2]; [0, 3] -> [0, 1].
        let s = std::f32::consts::FRAC_1_SQRT_2;
        for (got, want) in out.iter().flatten().zip([s, s, 0., 1.]) {
            assert!((got - want).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn zero_vector_stays_finite() {
        let hidden = Tensor::zeros((1, 2, 3), DType::F32, &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[0u32, 0]], &Device::Cpu).unwrap();
        let out = mean_pool_normalize(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(out, vec![vec![0f32; 3]]);
    }

    #[test]
    fn fast_gelu_matches_candles_libm_gelu() {
        // -12..12 in steps of 1/1024, plus the tails and zero.
        let xs: Vec<f32> =
            (-12 * 1024..=12 * 1024).map(|i| i as f32 / 1024.0).chain([-1e4, 1e4, 0.0]).collect();
        let reference =
            Tensor::new(xs.as_slice(), &Device::Cpu).unwrap().gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        let fast = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        fast.inplace_op1(&GeluErf).unwrap();
        let fast = fast.to_vec1::<f32>().unwrap();
        for ((x, want), got) in xs.iter().zip(&reference).zip(&fast) {
            // erf within ~5e-7 of libm's (a few f32 ulps of 1), so GELU within 3e-7·|x|.
            let tolerance = 3e-7 * x.abs().max(1.0);
            assert!((want - got).abs() <= tolerance, "gelu({x}) = {got}, libm gives {want}");
        }
        // Large tensors are split across threads; every element is still computed once.
        let big = Tensor::new(vec![1f32; 3 * GELU_MIN_CHUNK + 7], &Device::Cpu).unwrap();
        big.inplace_op1(&GeluErf).unwrap();
        let want = gelu_erf(1.0);
        assert!((want - 0.841_344_7).abs() < 1e-6, "{want}");
        assert!(big.to_vec1::<f32>().unwrap().iter().all(|&v| v == want));
    }

    #[test]
    fn batches_are_longest_first_and_cover_every_index() {
        let enc = |n: usize| {
            Encoding::new(
                vec![1; n],
                vec![0; n],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![1; n],
                vec![],
                Default::default(),
            )
        };
        let encodings: Vec<Encoding> = [3, 7, 1, 7, 5].into_iter().map(enc).collect();
        let batches = length_sorted_batches(&encodings, 2);
        assert_eq!(batches, vec![vec![1, 3], vec![4, 0], vec![2]]);
        // Long texts go in smaller batches: at most TOKENS_PER_PASS padded tokens.
        let encodings: Vec<Encoding> = [1000, 1000, 1000, 10, 10, 10].into_iter().map(enc).collect();
        let batches = length_sorted_batches(&encodings, 64);
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3], vec![4, 5]]);
    }
}
