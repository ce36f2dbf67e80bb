//! Evaluation metrics for financial NLP tasks: sentiment classification (accuracy, macro/weighted F1,
//! Matthews correlation), summarisation (ROUGE-N, ROUGE-L), numeric / extractive QA (SQuAD token F1,
//! exact match), entity extraction (micro P/R/F1), plus percentile bootstrap confidence intervals and
//! paired bootstrap comparisons. Pure functions, no I/O; undefined metrics are `None`, never NaN.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The pseudo-class of invalid or missing predictions (a predicted category only, never a gold class).
pub const INVALID_LABEL: &str = "<invalid>";

/// Upper bound on the capacity reserved up front for bootstrap statistics (more reps simply grow the Vec).
const MAX_RESERVE: usize = 1 << 20;

/// Precision, recall, F1 (each in [0,1]); F1 = 0 when P+R = 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Prf {
    /// tp / (tp + fp), 0 when nothing was predicted.
    pub precision: f64,
    /// tp / (tp + fn), 0 when there is nothing to find.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
}

impl Prf {
    /// P/R/F1 from true positive, false positive and false negative counts; a 0/0 precision or recall is 0.
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Prf {
        let precision = ratio(tp, tp.saturating_add(fp));
        let recall = ratio(tp, tp.saturating_add(fn_));
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Prf { precision, recall, f1 }
    }
}

/// `num / den`, 0 when `den` is 0.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// The scores of one class of a classification task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// The class label.
    pub label: String,
    /// Share of the predictions of this class that are right (0 when never predicted).
    pub precision: f64,
    /// Share of the gold items of this class predicted as such (0 when there are none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Number of gold items of this class.
    pub support: usize,
}

/// The scores of a classification task (see [`classification`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationScores {
    /// Share of items whose prediction equals the gold label (invalid predictions count as wrong).
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 over the label set.
    pub macro_f1: f64,
    /// Mean of the per-class F1 weighted by gold support.
    pub weighted_f1: f64,
    /// Multi-class Matthews correlation (Gorodkin's R_K), 0 when undefined.
    pub mcc: f64,
    /// One entry per label, in the order of the label set.
    pub per_class: Vec<ClassScore>,
    /// Number of items.
    pub n: usize,
    /// Number of invalid (missing) predictions.
    pub invalid: usize,
}

/// Classification scores of predictions against gold labels.
///
/// `gold[i]` the gold label, `pred[i]` the predicted label or None when the output was invalid/missing.
/// `labels`: the label set (order of per_class; duplicates are ignored). Gold labels not in `labels` are
/// added (in order of first appearance). An invalid prediction counts as wrong (it is a false negative of
/// the gold class and a prediction of a pseudo-class "<invalid>" that is not part of macro/weighted
/// averages). A predicted label outside the label set is likewise wrong and a predicted-only category of
/// its own (one per distinct label). Macro F1 = mean F1 over the label set (a class never predicted has
/// precision 0, recall 0, F1 0 — and still counts in the mean); weighted F1 = mean F1 weighted by gold
/// support. MCC = the multi-class Matthews correlation (Gorodkin's R_K, as scikit-learn computes it) on
/// the confusion matrix whose predicted categories include "<invalid>"; MCC = 0 when its denominator is 0.
/// Labels are compared exactly (case-sensitive). Returns None when `gold` is empty or lengths differ.
pub fn classification(
    gold: &[String],
    pred: &[Option<String>],
    labels: &[String],
) -> Option<ClassificationScores> {
    if gold.is_empty() || gold.len() != pred.len() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for label in labels.iter().chain(gold.iter()) {
        if !index.contains_key(label.as_str()) {
            index.insert(label.as_str(), names.len());
            names.push(label.as_str());
        }
    }
    let k = names.len();
    // Row sums (gold support), column sums of the known classes, diagonal.
    let mut support = vec![0usize; k];
    let mut predicted = vec![0usize; k];
    let mut correct = vec![0usize; k];
    // Column sums of the predicted-only categories.
    let mut unknown: HashMap<&str, usize> = HashMap::new();
    let mut invalid = 0usize;
    for (g, p) in gold.iter().zip(pred) {
        let &gi = index.get(g.as_str())?;
        support[gi] += 1;
        match p {
            None => invalid += 1,
            Some(label) => match index.get(label.as_str()) {
                Some(&pi) => {
                    predicted[pi] += 1;
                    if pi == gi {
                        correct[gi] += 1;
                    }
                }
                None => *unknown.entry(label.as_str()).or_insert(0) += 1,
            },
        }
    }
    let n = gold.len();
    let per_class: Vec<ClassScore> = (0..k)
        .map(|i| {
            let prf = Prf::from_counts(correct[i], predicted[i] - correct[i], support[i] - correct[i]);
            ClassScore {
                label: names[i].to_string(),
                precision: prf.precision,
                recall: prf.recall,
                f1: prf.f1,
                support: support[i],
            }
        })
        .collect();
    let n_correct: usize = correct.iter().sum();
    let macro_f1 = per_class.iter().map(|c| c.f1).sum::<f64>() / k as f64;
    let weighted_f1 = per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / n as f64;

    // Gorodkin's R_K as in scikit-learn's matthews_corrcoef:
    // cov(t,p) = c·s − Σ t_k p_k, cov(p,p) = s² − Σ p_k², cov(t,t) = s² − Σ t_k²,
    // MCC = cov(t,p) / sqrt(cov(t,t)·cov(p,p)); the sums over p include the predicted-only categories.
    let s = n as f64;
    let t_dot_p: f64 = support.iter().zip(&predicted).map(|(&t, &p)| t as f64 * p as f64).sum();
    let p_dot_p: f64 =
        predicted.iter().chain(unknown.values()).map(|&p| (p as f64) * (p as f64)).sum::<f64>()
            + (invalid as f64) * (invalid as f64);
    let t_dot_t: f64 = support.iter().map(|&t| (t as f64) * (t as f64)).sum();
    let cov_tp = n_correct as f64 * s - t_dot_p;
    let cov_pp = s * s - p_dot_p;
    let cov_tt = s * s - t_dot_t;
    let denom = (cov_tt * cov_pp).sqrt();
    let mcc = if denom > 0.0 && denom.is_finite() { (cov_tp / denom).clamp(-1.0, 1.0) } else { 0.0 };

    Some(ClassificationScores {
        accuracy: n_correct as f64 / s,
        macro_f1,
        weighted_f1,
        mcc,
        per_class,
        n,
        invalid,
    })
}

/// ROUGE tokens: lowercase, every run of ASCII-alphanumeric chars (after replacing anything else by
/// space) is a token, as Google's rouge_score default tokenizer (no stemming).
pub fn rouge_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// ROUGE-N F-measure etc. on n-gram multiset overlap (clipped counts). Empty side (fewer than `n` tokens)
/// or `n == 0` → all zeros.
pub fn rouge_n(candidate: &str, reference: &str, n: usize) -> Prf {
    let cand = rouge_tokens(candidate);
    let refs = rouge_tokens(reference);
    if n == 0 || cand.len() < n || refs.len() < n {
        return Prf::default();
    }
    let mut ref_counts: HashMap<&[String], usize> = HashMap::new();
    for gram in refs.windows(n) {
        *ref_counts.entry(gram).or_insert(0) += 1;
    }
    let mut overlap = 0usize;
    for gram in cand.windows(n) {
        if let Some(count) = ref_counts.get_mut(gram)
            && *count > 0
        {
            *count -= 1;
            overlap += 1;
        }
    }
    let cand_grams = cand.len() - n + 1;
    let ref_grams = refs.len() - n + 1;
    Prf::from_counts(overlap, cand_grams - overlap, ref_grams - overlap)
}

/// ROUGE-L on the longest common subsequence of tokens: P = LCS/len(cand), R = LCS/len(ref).
/// Empty side → all zeros.
pub fn rouge_l(candidate: &str, reference: &str) -> Prf {
    let cand = rouge_tokens(candidate);
    let refs = rouge_tokens(reference);
    let lcs = lcs_len(&cand, &refs);
    Prf::from_counts(lcs, cand.len() - lcs, refs.len() - lcs)
}

/// Length of the longest common subsequence (two-row dynamic programme, O(|a|·|b|) time, O(|b|) memory).
fn lcs_len<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { cur[j].max(prev[j + 1]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The normalisation used by token_f1 / exact match: lowercase, strip punctuation, drop articles, collapse
/// whitespace (as SQuAD's official evaluation script: ASCII punctuation is removed without a space,
/// the whole words a/an/the are replaced by a space).
pub fn normalize_answer(text: &str) -> String {
    let lowered: String = text.to_lowercase().chars().filter(|c| !c.is_ascii_punctuation()).collect();
    let mut spaced = String::with_capacity(lowered.len());
    let mut word = String::new();
    for c in lowered.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush_word(&mut spaced, &mut word);
            spaced.push(c);
        }
    }
    flush_word(&mut spaced, &mut word);
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Append `word` to `out` (a space instead when it is an article) and clear it.
fn flush_word(out: &mut String, word: &mut String) {
    if matches!(word.as_str(), "a" | "an" | "the") {
        out.push(' ');
    } else {
        out.push_str(word);
    }
    word.clear();
}

/// Whether two answers are equal after [`normalize_answer`] (SQuAD exact match).
pub fn exact_match(pred: &str, gold: &str) -> bool {
    normalize_answer(pred) == normalize_answer(gold)
}

/// SQuAD-style bag-of-tokens F1 between a predicted and a gold answer (lowercase, punctuation removed,
/// articles a/an/the removed, whitespace collapsed). Both empty → 1.0; one empty → 0.0.
pub fn token_f1(pred: &str, gold: &str) -> f64 {
    let pred_norm = normalize_answer(pred);
    let gold_norm = normalize_answer(gold);
    let pred_tokens: Vec<&str> = pred_norm.split_whitespace().collect();
    let gold_tokens: Vec<&str> = gold_norm.split_whitespace().collect();
    if pred_tokens.is_empty() || gold_tokens.is_empty() {
        return if pred_tokens.is_empty() && gold_tokens.is_empty() { 1.0 } else { 0.0 };
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for &t in &gold_tokens {
        *counts.entry(t).or_insert(0) += 1;
    }
    let mut same = 0usize;
    for &t in &pred_tokens {
        if let Some(count) = counts.get_mut(t)
            && *count > 0
        {
            *count -= 1;
            same += 1;
        }
    }
    Prf::from_counts(same, pred_tokens.len() - same, gold_tokens.len() - same).f1
}

/// Entity-level micro P/R/F1: per item, the predicted and gold sets of (type, text) pairs; text compared
/// after `normalize_answer`, type compared case-insensitively (and trimmed); duplicates within an item
/// count once. None when the lengths differ or there are no items.
pub fn entity_prf(pred: &[Vec<(String, String)>], gold: &[Vec<(String, String)>]) -> Option<Prf> {
    if pred.is_empty() || pred.len() != gold.len() {
        return None;
    }
    let key = |(kind, text): &(String, String)| (kind.trim().to_lowercase(), normalize_answer(text));
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (p, g) in pred.iter().zip(gold) {
        let p_set: HashSet<(String, String)> = p.iter().map(key).collect();
        let g_set: HashSet<(String, String)> = g.iter().map(key).collect();
        let hits = p_set.intersection(&g_set).count();
        tp += hits;
        fp += p_set.len() - hits;
        fn_ += g_set.len() - hits;
    }
    Some(Prf::from_counts(tp, fp, fn_))
}

/// Linear-interpolated percentile (numpy's default), p in [0,100]; None for empty input (after dropping
/// NaNs) or p outside [0,100]; NaNs ignored.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    percentile_sorted(&sorted, p)
}

/// [`percentile`] on values already sorted ascending, without NaNs.
fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let last = sorted.len() - 1;
    let rank = p / 100.0 * last as f64;
    let lo = (rank.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    let frac = rank - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    let value = if frac <= 0.0 || a == b { a } else { a + (b - a) * frac };
    (!value.is_nan()).then_some(value)
}

/// A two-sided percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower bound (the (1-level)/2 percentile).
    pub low: f64,
    /// The upper bound (the (1+level)/2 percentile).
    pub high: f64,
}

/// The lower and upper percentiles (in [0,100]) of a two-sided interval at `level` in [0,1].
fn level_percentiles(level: f64) -> Option<(f64, f64)> {
    if !(0.0..=1.0).contains(&level) {
        return None;
    }
    Some(((1.0 - level) / 2.0 * 100.0, (1.0 + level) / 2.0 * 100.0))
}

/// Fill `indices` with indices drawn uniformly with replacement from `0..indices.len()`.
fn resample(rng: &mut StdRng, indices: &mut [usize]) {
    let n = indices.len();
    if n == 0 {
        return;
    }
    for slot in indices.iter_mut() {
        *slot = rng.random_range(0..n);
    }
}

/// The interval between two percentiles of `values` (sorted in place); None when empty.
fn interval_of(values: &mut [f64], low_p: f64, high_p: f64) -> Option<Interval> {
    values.sort_unstable_by(f64::total_cmp);
    Some(Interval { low: percentile_sorted(values, low_p)?, high: percentile_sorted(values, high_p)? })
}

/// `value` unless it is NaN.
fn defined(value: Option<f64>) -> Option<f64> {
    value.filter(|v| !v.is_nan())
}

/// Percentile bootstrap CI of a statistic over n items: `reps` resamples of n indices with replacement
/// (StdRng seeded with `seed`), `stat(&indices)` evaluated on each (resamples where it returns None or
/// NaN are skipped), then the (1-level)/2 and (1+level)/2 percentiles. None when n == 0, `level` is not
/// in [0,1] or no resample gave a value.
pub fn bootstrap_ci(
    n: usize,
    reps: usize,
    seed: u64,
    level: f64,
    stat: impl Fn(&[usize]) -> Option<f64>,
) -> Option<Interval> {
    let (low_p, high_p) = level_percentiles(level)?;
    if n == 0 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut indices = vec![0usize; n];
    let mut stats: Vec<f64> = Vec::with_capacity(reps.min(MAX_RESERVE));
    for _ in 0..reps {
        resample(&mut rng, &mut indices);
        if let Some(value) = defined(stat(&indices)) {
            stats.push(value);
        }
    }
    interval_of(&mut stats, low_p, high_p)
}

/// A paired comparison of a variant against a baseline on the same items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedDiff {
    /// stat_variant(all items) − stat_baseline(all items).
    pub diff: f64,
    /// Percentile bootstrap interval of the difference.
    pub interval: Interval,
    /// share of resamples where variant <= baseline
    pub p_not_better: f64,
}

/// A paired bootstrap comparison of a variant against a baseline on the same n items.
///
/// diff = stat_variant(all) − stat_baseline(all); the interval from a paired bootstrap: the SAME resampled
/// indices for both statistics in each rep (StdRng seeded with `seed`; resamples where either statistic
/// is None or NaN are skipped, for the interval and for `p_not_better` alike). None when n == 0, `level`
/// is not in [0,1], a statistic is undefined on all items, or no resample gave both values.
pub fn paired_bootstrap(
    n: usize,
    reps: usize,
    seed: u64,
    level: f64,
    baseline: impl Fn(&[usize]) -> Option<f64>,
    variant: impl Fn(&[usize]) -> Option<f64>,
) -> Option<PairedDiff> {
    let (low_p, high_p) = level_percentiles(level)?;
    if n == 0 {
        return None;
    }
    let mut indices: Vec<usize> = (0..n).collect();
    let base_all = defined(baseline(&indices))?;
    let var_all = defined(variant(&indices))?;
    let diff = var_all - base_all;
    if diff.is_nan() {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut diffs: Vec<f64> = Vec::with_capacity(reps.min(MAX_RESERVE));
    let mut not_better = 0usize;
    for _ in 0..reps {
        resample(&mut rng, &mut indices);
        let (Some(b), Some(v)) = (defined(baseline(&indices)), defined(variant(&indices))) else {
            continue;
        };
        let d = v - b;
        if d.is_nan() {
            continue;
        }
        if v <= b {
            not_better += 1;
        }
        diffs.push(d);
    }
    if diffs.is_empty() {
        return None;
    }
    let p_not_better = not_better as f64 / diffs.len() as f64;
    let interval = interval_of(&mut diffs, low_p, high_p)?;
    Some(PairedDiff { diff, interval, p_not_better })
}

/// Mean of a slice of booleans as a share in [0,1]; None when empty.
pub fn share(flags: &[bool]) -> Option<f64> {
    if flags.is_empty() {
        return None;
    }
    Some(flags.iter().filter(|&&f| f).count() as f64 / flags.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-9;

    fn approx(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < TOL, "{actual} != {expected}");
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn preds(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|p| p.map(str::to_string)).collect()
    }

    fn mean_of(xs: &[f64], idx: &[usize]) -> Option<f64> {
        if idx.is_empty() {
            return None;
        }
        Some(idx.iter().map(|&i| xs[i]).sum::<f64>() / idx.len() as f64)
    }

    #[test]
    fn prf_from_counts() {
        assert_eq!(Prf::from_counts(0, 0, 0), Prf::default());
        // P = 2/3, R = 2/4 = 1/2, F1 = 2·(1/3)/(7/6) = 4/7.
        let prf = Prf::from_counts(2, 1, 2);
        approx(prf.precision, 2.0 / 3.0);
        approx(prf.recall, 0.5);
        approx(prf.f1, 4.0 / 7.0);
        // Nothing predicted: precision 0/0 = 0, recall 0, F1 0.
        assert_eq!(Prf::from_counts(0, 0, 3), Prf::default());
    }

    #[test]
    fn classification_three_classes() {
        let gold = strings(&["pos", "pos", "neg", "neu", "neu", "neu"]);
        let pred = preds(&[Some("pos"), Some("neg"), Some("neg"), Some("neu"), Some("neu"), Some("pos")]);
        let labels = strings(&["neg", "neu", "pos"]);
        let s = classification(&gold, &pred, &labels).unwrap();
        // Confusion matrix (rows gold, cols pred; order neg, neu, pos):
        //   neg: [1, 0, 0]   (support 1)
        //   neu: [0, 2, 1]   (support 3)
        //   pos: [1, 0, 1]   (support 2)
        // column sums (predicted) = [2, 2, 2], diagonal = [1, 2, 1], correct = 4 of 6.
        assert_eq!(s.n, 6);
        assert_eq!(s.invalid, 0);
        approx(s.accuracy, 4.0 / 6.0);
        let names: Vec<&str> = s.per_class.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(names, ["neg", "neu", "pos"]);
        // neg: tp 1, fp 1, fn 0 → P 1/2, R 1, F1 = 2·(1/2)/(3/2) = 2/3.
        approx(s.per_class[0].precision, 0.5);
        approx(s.per_class[0].recall, 1.0);
        approx(s.per_class[0].f1, 2.0 / 3.0);
        assert_eq!(s.per_class[0].support, 1);
        // neu: tp 2, fp 0, fn 1 → P 1, R 2/3, F1 = 2·(2/3)/(5/3) = 4/5.
        approx(s.per_class[1].precision, 1.0);
        approx(s.per_class[1].recall, 2.0 / 3.0);
        approx(s.per_class[1].f1, 0.8);
        assert_eq!(s.per_class[1].support, 3);
        // pos: tp 1, fp 1, fn 1 → P 1/2, R 1/2, F1 1/2.
        approx(s.per_class[2].precision, 0.5);
        approx(s.per_class[2].recall, 0.5);
        approx(s.per_class[2].f1, 0.5);
        assert_eq!(s.per_class[2].support, 2);
        // macro = (2/3 + 4/5 + 1/2)/3 = (20/30 + 24/30 + 15/30)/3 = 59/90.
        approx(s.macro_f1, 59.0 / 90.0);
        // weighted = (1·2/3 + 3·4/5 + 2·1/2)/6 = (10/15 + 36/15 + 15/15)/6 = 61/90.
        approx(s.weighted_f1, 61.0 / 90.0);
        // MCC (Gorodkin): s = 6, c = 4, t = [1,3,2], p = [2,2,2]
        //   cov(t,p) = c·s − Σ t_k p_k = 24 − (2 + 6 + 4) = 12
        //   cov(p,p) = s² − Σ p_k² = 36 − 12 = 24
        //   cov(t,t) = s² − Σ t_k² = 36 − (1 + 9 + 4) = 22
        //   MCC = 12 / sqrt(22·24) = 12 / sqrt(528) = 3 / sqrt(33) ≈ 0.5222
        approx(s.mcc, 3.0 / 33f64.sqrt());
    }

    #[test]
    fn classification_binary_mcc_matches_classic_formula() {
        let gold = strings(&["p", "p", "p", "n", "n", "n", "n", "p"]);
        let pred =
            preds(&[Some("p"), Some("p"), Some("n"), Some("n"), Some("n"), Some("p"), Some("n"), Some("n")]);
        let labels = strings(&["p", "n"]);
        let s = classification(&gold, &pred, &labels).unwrap();
        // TP = 2 (items 0, 1), FN = 2 (items 2, 7), TN = 3 (items 3, 4, 6), FP = 1 (item 5).
        let (tp, tn, fp, fn_) = (2.0f64, 3.0f64, 1.0f64, 2.0f64);
        let classic = (tp * tn - fp * fn_) / ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        // (6 − 2)/sqrt(3·4·4·5) = 4/sqrt(240) = 1/sqrt(15)
        approx(classic, 1.0 / 15f64.sqrt());
        approx(s.mcc, classic);
        approx(s.accuracy, 5.0 / 8.0);
    }

    #[test]
    fn classification_class_never_predicted() {
        let gold = strings(&["a", "a", "b", "b"]);
        let pred = preds(&[Some("a"), Some("a"), Some("a"), Some("a")]);
        let labels = strings(&["a", "b"]);
        let s = classification(&gold, &pred, &labels).unwrap();
        approx(s.accuracy, 0.5);
        // a: tp 2, fp 2, fn 0 → P 1/2, R 1, F1 2/3. b: never predicted → P 0, R 0, F1 0.
        approx(s.per_class[0].f1, 2.0 / 3.0);
        assert_eq!(s.per_class[1].precision, 0.0);
        assert_eq!(s.per_class[1].recall, 0.0);
        assert_eq!(s.per_class[1].f1, 0.0);
        // macro = (2/3 + 0)/2 = 1/3; weighted = (2·2/3 + 2·0)/4 = 1/3.
        approx(s.macro_f1, 1.0 / 3.0);
        approx(s.weighted_f1, 1.0 / 3.0);
        // p = [4, 0]: cov(p,p) = 16 − 16 = 0 → MCC = 0.
        assert_eq!(s.mcc, 0.0);
    }

    #[test]
    fn classification_invalid_prediction() {
        let gold = strings(&["a", "a", "b", "b"]);
        let pred = preds(&[Some("a"), None, Some("b"), Some("b")]);
        let labels = strings(&["a", "b"]);
        let s = classification(&gold, &pred, &labels).unwrap();
        assert_eq!(s.invalid, 1);
        assert_eq!(s.per_class.len(), 2);
        assert!(s.per_class.iter().all(|c| c.label != INVALID_LABEL));
        // 3 of 4 right.
        approx(s.accuracy, 0.75);
        // a: tp 1, fp 0, fn 1 → P 1, R 1/2, F1 2/3; b: P = R = F1 = 1.
        approx(s.per_class[0].precision, 1.0);
        approx(s.per_class[0].recall, 0.5);
        approx(s.per_class[0].f1, 2.0 / 3.0);
        approx(s.per_class[1].f1, 1.0);
        // macro = (2/3 + 1)/2 = 5/6 (no "<invalid>" class in the mean).
        approx(s.macro_f1, 5.0 / 6.0);
        // MCC with columns a, b, <invalid>: s = 4, c = 3, t = [2,2], p = [1,2,1]
        //   cov(t,p) = 12 − (2 + 4) = 6, cov(p,p) = 16 − (1 + 4 + 1) = 10, cov(t,t) = 16 − 8 = 8
        //   MCC = 6/sqrt(80) = 3/(2·sqrt 5)
        approx(s.mcc, 3.0 / (2.0 * 5f64.sqrt()));
    }

    #[test]
    fn classification_label_sets() {
        // A gold label outside `labels` is appended; duplicates in `labels` are ignored.
        let gold = strings(&["a", "c"]);
        let pred = preds(&[Some("a"), Some("c")]);
        let s = classification(&gold, &pred, &strings(&["a", "a"])).unwrap();
        let names: Vec<&str> = s.per_class.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        approx(s.accuracy, 1.0);
        approx(s.macro_f1, 1.0);
        approx(s.mcc, 1.0);

        // A predicted label outside the set is wrong and its own predicted-only category:
        // t = [1,1], p = [1,0] + zzz 1, c = 1, s = 2 → cov(t,p) = 2 − 1 = 1, cov(p,p) = 4 − 2 = 2,
        // cov(t,t) = 4 − 2 = 2 → MCC = 1/2 (as sklearn on labels {a, b, zzz}).
        let gold = strings(&["a", "b"]);
        let pred = preds(&[Some("a"), Some("zzz")]);
        let s = classification(&gold, &pred, &strings(&["a", "b"])).unwrap();
        assert_eq!(s.per_class.len(), 2);
        approx(s.accuracy, 0.5);
        approx(s.per_class[1].recall, 0.0);
        approx(s.mcc, 0.5);

        // Empty or mismatched inputs.
        assert!(classification(&[], &[], &strings(&["a"])).is_none());
        assert!(classification(&strings(&["a"]), &[], &[]).is_none());
    }

    #[test]
    fn rouge_tokenizer() {
        assert_eq!(rouge_tokens("Net income: $5.2M (2023)"), ["net", "income", "5", "2m", "2023"]);
        assert!(rouge_tokens("  ... ").is_empty());
    }

    #[test]
    fn rouge_known_pair() {
        let cand = "the cat sat on the mat";
        let refs = "the cat is on the mat";
        // Unigrams: the ×2 (clipped 2), cat, on, mat match; sat does not → 5 of 6 on both sides.
        let r1 = rouge_n(cand, refs, 1);
        approx(r1.precision, 5.0 / 6.0);
        approx(r1.recall, 5.0 / 6.0);
        approx(r1.f1, 5.0 / 6.0);
        // Bigrams: cand {the cat, cat sat, sat on, on the, the mat}, ref {the cat, cat is, is on, on the,
        // the mat} → 3 shared of 5 each.
        let r2 = rouge_n(cand, refs, 2);
        approx(r2.precision, 0.6);
        approx(r2.recall, 0.6);
        approx(r2.f1, 0.6);
        // LCS = "the cat on the mat" = 5 → 5/6.
        let rl = rouge_l(cand, refs);
        approx(rl.precision, 5.0 / 6.0);
        approx(rl.recall, 5.0 / 6.0);
        approx(rl.f1, 5.0 / 6.0);
        // Case and punctuation do not matter.
        approx(rouge_l("The CAT, sat on the mat!", refs).f1, 5.0 / 6.0);
    }

    #[test]
    fn rouge_empty_and_short() {
        assert_eq!(rouge_n("", "the cat", 1), Prf::default());
        assert_eq!(rouge_n("the cat", "", 1), Prf::default());
        assert_eq!(rouge_l("", "the cat"), Prf::default());
        assert_eq!(rouge_l("the cat", ""), Prf::default());
        assert_eq!(rouge_n("cat", "cat", 2), Prf::default());
        assert_eq!(rouge_n("cat", "cat", 0), Prf::default());
        // Candidate "a b", reference "a c b": LCS 2 → P = 1, R = 2/3, F = 2·(2/3)/(5/3) = 4/5.
        let rl = rouge_l("a b", "a c b");
        approx(rl.precision, 1.0);
        approx(rl.recall, 2.0 / 3.0);
        approx(rl.f1, 0.8);
    }

    #[test]
    fn answer_normalisation_and_token_f1() {
        assert_eq!(normalize_answer("The  U.S. dollar, an  asset!"), "us dollar asset");
        assert_eq!(normalize_answer("  A  "), "");
        assert_eq!(normalize_answer("Theory and anthem"), "theory and anthem");
        assert!(exact_match("The Apple Inc.", "apple inc"));
        assert!(!exact_match("apple", "apple inc"));
        approx(token_f1("The Apple Inc.", "apple inc"), 1.0);
        // pred tokens [net, income, of, 5, million], gold [5, million]: 2 shared → P 2/5, R 1,
        // F1 = 2·(2/5)/(7/5) = 4/7.
        approx(token_f1("net income of $5 million", "$5 million"), 4.0 / 7.0);
        // Repeated tokens are clipped: pred [5, 5], gold [5] → P 1/2, R 1, F1 2/3.
        approx(token_f1("5 5", "5"), 2.0 / 3.0);
        approx(token_f1("", ""), 1.0);
        approx(token_f1("the", ""), 1.0);
        approx(token_f1("x", ""), 0.0);
        approx(token_f1("", "x"), 0.0);
        approx(token_f1("revenue", "income"), 0.0);
    }

    #[test]
    fn entity_micro_prf() {
        let e = |t: &str, x: &str| (t.to_string(), x.to_string());
        let pred = vec![
            vec![e("ORG", "Apple Inc."), e("MONEY", "$5 million")],
            vec![e("PERSON", "Tim Cook"), e("person", "tim cook")],
        ];
        let gold = vec![
            vec![e("org", "apple inc"), e("MONEY", "$5 million"), e("DATE", "2023")],
            vec![e("ORG", "Tim Cook")],
        ];
        // Item 0: both predictions match, DATE missed → tp 2, fp 0, fn 1.
        // Item 1: the duplicate counts once, wrong type → tp 0, fp 1, fn 1.
        // Total tp 2, fp 1, fn 2 → P 2/3, R 1/2, F1 4/7.
        let prf = entity_prf(&pred, &gold).unwrap();
        approx(prf.precision, 2.0 / 3.0);
        approx(prf.recall, 0.5);
        approx(prf.f1, 4.0 / 7.0);
        assert!(entity_prf(&pred, &gold[..1]).is_none());
        assert!(entity_prf(&[], &[]).is_none());
        assert_eq!(entity_prf(&[vec![]], &[vec![]]), Some(Prf::default()));
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // rank = p/100·(n−1): p50 → 1.5 → 2 + 0.5·1 = 2.5; p95 → 2.85 → 3 + 0.85·1 = 3.85.
        approx(percentile(&v, 50.0).unwrap(), 2.5);
        approx(percentile(&v, 95.0).unwrap(), 3.85);
        approx(percentile(&v, 0.0).unwrap(), 1.0);
        approx(percentile(&v, 100.0).unwrap(), 4.0);
        approx(percentile(&[f64::NAN, 4.0, 1.0, 3.0, 2.0], 50.0).unwrap(), 2.5);
        approx(percentile(&[7.0], 30.0).unwrap(), 7.0);
        assert!(percentile(&[], 50.0).is_none());
        assert!(percentile(&[f64::NAN], 50.0).is_none());
        assert!(percentile(&v, 101.0).is_none());
        assert!(percentile(&v, f64::NAN).is_none());
    }

    #[test]
    fn bootstrap_constant_and_deterministic() {
        let constant = bootstrap_ci(100, 200, 7, 0.95, |_| Some(0.42)).unwrap();
        assert_eq!(constant.low, constant.high);
        approx(constant.low, 0.42);

        let xs: Vec<f64> = (0..200).map(|i| (i % 7) as f64 / 7.0).collect();
        let a = bootstrap_ci(xs.len(), 500, 11, 0.95, |idx| mean_of(&xs, idx)).unwrap();
        let b = bootstrap_ci(xs.len(), 500, 11, 0.95, |idx| mean_of(&xs, idx)).unwrap();
        assert_eq!(a, b);
        let full = mean_of(&xs, &(0..xs.len()).collect::<Vec<_>>()).unwrap();
        assert!(a.low <= full && full <= a.high, "{a:?} vs {full}");
        assert!(a.low < a.high);

        assert!(bootstrap_ci(0, 100, 1, 0.95, |_| Some(1.0)).is_none());
        assert!(bootstrap_ci(10, 100, 1, 0.95, |_| None).is_none());
        assert!(bootstrap_ci(10, 0, 1, 0.95, |_| Some(1.0)).is_none());
        assert!(bootstrap_ci(10, 100, 1, 1.5, |_| Some(1.0)).is_none());
        assert!(bootstrap_ci(10, 100, 1, 0.95, |_| Some(f64::NAN)).is_none());
    }

    #[test]
    fn bootstrap_large_is_fast_enough() {
        // 1000 reps × 5000 items: one reused index buffer.
        let xs: Vec<f64> = (0..5000).map(|i| ((i * 37) % 101) as f64).collect();
        let ci = bootstrap_ci(xs.len(), 1000, 3, 0.9, |idx| mean_of(&xs, idx)).unwrap();
        assert!(ci.low < ci.high);
    }

    #[test]
    fn paired_bootstrap_variant_always_better() {
        let base: Vec<f64> = (0..80).map(|i| (i % 5) as f64 / 10.0).collect();
        let var: Vec<f64> = base.iter().map(|b| b + 0.2).collect();
        let run = |seed| {
            paired_bootstrap(base.len(), 500, seed, 0.95, |idx| mean_of(&base, idx), |idx| mean_of(&var, idx))
        };
        let d = run(5).unwrap();
        approx(d.diff, 0.2);
        assert!(d.diff > 0.0);
        assert!(d.interval.low > 0.0);
        assert!(d.interval.low <= d.interval.high);
        assert_eq!(d.p_not_better, 0.0);
        // Same seed → same result.
        assert_eq!(run(5).unwrap(), d);
    }

    #[test]
    fn paired_bootstrap_undefined() {
        let xs = [1.0, 2.0, 3.0];
        assert!(paired_bootstrap(0, 10, 1, 0.95, |_| Some(1.0), |_| Some(1.0)).is_none());
        assert!(paired_bootstrap(3, 10, 1, 0.95, |_| None, |idx| mean_of(&xs, idx)).is_none());
        assert!(paired_bootstrap(3, 10, 1, 0.95, |idx| mean_of(&xs, idx), |_| None).is_none());
        // Equal statistics: diff 0, every resample counts as not better.
        let same =
            paired_bootstrap(3, 50, 1, 0.95, |idx| mean_of(&xs, idx), |idx| mean_of(&xs, idx)).unwrap();
        assert_eq!(same.diff, 0.0);
        assert_eq!(same.p_not_better, 1.0);
        assert_eq!(same.interval, Interval { low: 0.0, high: 0.0 });
    }

    #[test]
    fn shares() {
        assert_eq!(share(&[true, false, true, true]), Some(0.75));
        assert_eq!(share(&[]), None);
    }
}
