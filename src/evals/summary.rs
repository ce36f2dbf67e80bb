//! Scores of each variant: the task's metrics, invalid rate, latency percentiles, tokens and
//! cost; a bootstrap interval of the main metric and a paired comparison with the baseline on
//! the same resampled items. A variant whose difference interval lies below zero regressed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::parse::{Answer, ParserSpec};
use super::run::ItemResult;
use super::task::{Metric, TaskSpec, Variant, VariantSpec};
use crate::core::metrics::{self, Interval, PairedDiff};
use crate::settings::EvaluationJob;

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// The scores of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    pub name: String,
    pub spec: VariantSpec,
    /// Every metric of the task (absent: undefined on these items).
    pub values: BTreeMap<String, Option<f64>>,
    /// The main metric, its 95 % bootstrap interval.
    pub main: Option<f64>,
    pub interval: Option<Interval>,
    /// Main metric minus the baseline's, with its paired 95 % interval (absent for the baseline).
    pub vs_baseline: Option<PairedDiff>,
    /// The difference interval lies wholly below / above zero.
    pub regression: bool,
    pub improvement: bool,
    pub items: usize,
    pub invalid: usize,
    pub errors: usize,
    pub cached: usize,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// From the job's price table (0 for a profile without a price).
    pub cost_usd: f64,
}

/// The table of a run: variants × metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub task: String,
    pub description: Option<String>,
    pub items: usize,
    pub main: Metric,
    pub metrics: Vec<Metric>,
    pub baseline: String,
    /// The variant with the highest main metric.
    pub best: Option<String>,
    pub seed: u64,
    pub bootstrap: usize,
    pub variants: Vec<VariantSummary>,
}

impl Summary {
    /// Flat `variant/metric` values for the tracker (undefined ones left out).
    pub fn tracked_metrics(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for v in &self.variants {
            for (k, value) in &v.values {
                if let Some(x) = value.filter(|x| x.is_finite()) {
                    out.insert(format!("{}/{k}", v.name), x);
                }
            }
            let extra = [
                ("latency_p50_ms", v.latency_p50_ms),
                ("latency_p95_ms", v.latency_p95_ms),
                ("tokens_in", Some(v.tokens_in as f64)),
                ("tokens_out", Some(v.tokens_out as f64)),
                ("cost_usd", Some(v.cost_usd)),
                ("main_diff", v.vs_baseline.map(|d| d.diff)),
            ];
            for (k, value) in extra {
                if let Some(x) = value.filter(|x| x.is_finite()) {
                    out.insert(format!("{}/{k}", v.name), x);
                }
            }
        }
        out
    }
}

/// Score every variant.
pub fn summarize(
    task: &TaskSpec,
    variants: &[Variant],
    parsers: &BTreeMap<String, ParserSpec>,
    results: &[ItemResult],
    baseline: &str,
    job: &EvaluationJob,
) -> Summary {
    let main = task.main_metric().unwrap_or(Metric::Accuracy);
    let mut metrics_list = task.metrics.clone();
    if !metrics_list.contains(&main) {
        metrics_list.insert(0, main);
    }
    if !metrics_list.contains(&Metric::InvalidRate) {
        metrics_list.push(Metric::InvalidRate);
    }
    let by_variant =
        |name: &str| -> Vec<&ItemResult> { results.iter().filter(|r| r.variant == name).collect() };
    let base_items = by_variant(baseline);
    let seen_labels = gold_labels(results);
    let mut out = Vec::new();
    for variant in variants {
        let items = by_variant(&variant.name);
        let labels = match parsers.get(&variant.name) {
            Some(ParserSpec::Label { labels, .. }) => labels.clone(),
            _ => seen_labels.clone(),
        };
        let n = items.len();
        let all: Vec<usize> = (0..n).collect();
        let values: BTreeMap<String, Option<f64>> =
            metrics_list.iter().map(|m| (m.name().to_string(), value(*m, &items, &all, &labels))).collect();
        let main_value = value(main, &items, &all, &labels);
        let interval =
            metrics::bootstrap_ci(n, job.bootstrap, job.seed, LEVEL, |idx| value(main, &items, idx, &labels));
        let vs_baseline = (variant.name != baseline && base_items.len() == n)
            .then(|| {
                metrics::paired_bootstrap(
                    n,
                    job.bootstrap,
                    job.seed,
                    LEVEL,
                    |idx| value(main, &base_items, idx, &labels),
                    |idx| value(main, &items, idx, &labels),
                )
            })
            .flatten();
        let latencies: Vec<f64> =
            items.iter().filter(|r| r.output.is_some()).map(|r| r.latency_ms as f64).collect();
        let tokens_in: u64 = items.iter().map(|r| u64::from(r.prompt_tokens)).sum();
        let tokens_out: u64 = items.iter().map(|r| u64::from(r.completion_tokens)).sum();
        let profile = &variant.spec.profile;
        let cost_usd = job
            .prices
            .get(profile)
            .map(|p| (tokens_in as f64 * p.input_per_mtok + tokens_out as f64 * p.output_per_mtok) / 1e6)
            .unwrap_or(0.0);
        out.push(VariantSummary {
            name: variant.name.clone(),
            spec: variant.spec.clone(),
            values,
            main: main_value,
            interval,
            regression: vs_baseline.is_some_and(|d| d.interval.high < 0.0),
            improvement: vs_baseline.is_some_and(|d| d.interval.low > 0.0),
            vs_baseline,
            items: n,
            invalid: items.iter().filter(|r| r.is_invalid()).count(),
            errors: items.iter().filter(|r| r.error.is_some()).count(),
            cached: items.iter().filter(|r| r.cached).count(),
            latency_p50_ms: metrics::percentile(&latencies, 50.0),
            latency_p95_ms: metrics::percentile(&latencies, 95.0),
            tokens_in,
            tokens_out,
            cost_usd,
        });
    }
    let best = out
        .iter()
        .filter_map(|v| v.main.map(|m| (m, v.name.clone())))
        .fold(None::<(f64, String)>, |best, (m, name)| match best {
            Some((b, _)) if b >= m => best,
            _ => Some((m, name)),
        })
        .map(|(_, name)| name);
    Summary {
        task: job.name.clone(),
        description: task.description.clone(),
        items: out.first().map(|v| v.items).unwrap_or(0),
        main,
        metrics: metrics_list,
        baseline: baseline.to_string(),
        best,
        seed: job.seed,
        bootstrap: job.bootstrap,
        variants: out,
    }
}

/// A metric on the items at `idx` (indices into `items`, repeats allowed).
pub fn value(metric: Metric, items: &[&ItemResult], idx: &[usize], labels: &[String]) -> Option<f64> {
    let pick: Vec<&ItemResult> = idx.iter().filter_map(|i| items.get(*i).copied()).collect();
    if pick.is_empty() {
        return None;
    }
    let mean =
        |f: &dyn Fn(&ItemResult) -> f64| Some(pick.iter().map(|r| f(r)).sum::<f64>() / pick.len() as f64);
    match metric {
        Metric::Accuracy | Metric::ExactMatch | Metric::NumericMatch => {
            metrics::share(&pick.iter().map(|r| r.correct).collect::<Vec<_>>())
        }
        Metric::InvalidRate => metrics::share(&pick.iter().map(|r| r.is_invalid()).collect::<Vec<_>>()),
        Metric::MacroF1 | Metric::WeightedF1 | Metric::Mcc => {
            let gold: Vec<String> = pick.iter().map(|r| label_of(&r.gold)).collect();
            let pred: Vec<Option<String>> = pick.iter().map(|r| r.answer.as_ref().map(label_of)).collect();
            let s = metrics::classification(&gold, &pred, labels)?;
            Some(match metric {
                Metric::MacroF1 => s.macro_f1,
                Metric::WeightedF1 => s.weighted_f1,
                _ => s.mcc,
            })
        }
        Metric::TokenF1 => mean(&|r| match &r.answer {
            Some(a) => metrics::token_f1(&text_of(a), &text_of(&r.gold)),
            None => 0.0,
        }),
        Metric::Rouge1 | Metric::Rouge2 | Metric::RougeL => mean(&|r| match &r.answer {
            Some(a) => {
                let (c, g) = (text_of(a), text_of(&r.gold));
                match metric {
                    Metric::Rouge1 => metrics::rouge_n(&c, &g, 1).f1,
                    Metric::Rouge2 => metrics::rouge_n(&c, &g, 2).f1,
                    _ => metrics::rouge_l(&c, &g).f1,
                }
            }
            None => 0.0,
        }),
        Metric::EntityF1 | Metric::EntityPrecision | Metric::EntityRecall => {
            let pred: Vec<Vec<(String, String)>> =
                pick.iter().map(|r| r.answer.as_ref().map(entities_of).unwrap_or_default()).collect();
            let gold: Vec<Vec<(String, String)>> = pick.iter().map(|r| entities_of(&r.gold)).collect();
            let prf = metrics::entity_prf(&pred, &gold)?;
            Some(match metric {
                Metric::EntityF1 => prf.f1,
                Metric::EntityPrecision => prf.precision,
                _ => prf.recall,
            })
        }
    }
}

/// Distinct labels of a classification task's gold answers, in first-seen order.
fn gold_labels(results: &[ItemResult]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    results
        .iter()
        .filter_map(|r| match &r.gold {
            Answer::Label(l) if seen.insert(l.clone()) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

fn label_of(a: &Answer) -> String {
    match a {
        Answer::Label(l) => l.clone(),
        other => other.display(),
    }
}

fn text_of(a: &Answer) -> String {
    match a {
        Answer::Text(t) => t.clone(),
        Answer::Spans(s) => s.join("\n"),
        other => other.display(),
    }
}

fn entities_of(a: &Answer) -> Vec<(String, String)> {
    match a {
        Answer::Entities(es) => es.iter().map(|e| (e.kind.clone(), e.text.clone())).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> EvaluationJob {
        serde_json::from_value(json!({
            "name": "t",
            "task": {
                "dataset": {"paths": ["x.txt"]},
                "prompt": "p",
                "gold": "label",
                "parser": {"kind": "label", "labels": ["neg", "pos"]},
                "metrics": ["macro_f1", "accuracy"],
            },
            "bootstrap": 200,
            "prices": {"hosted": {"input_per_mtok": 2.0, "output_per_mtok": 10.0}},
        }))
        .unwrap()
    }

    fn result(variant: &str, index: usize, gold: &str, pred: Option<&str>, latency_ms: u64) -> ItemResult {
        ItemResult {
            variant: variant.into(),
            index,
            id: index.to_string(),
            line: index + 1,
            prompt: "p".into(),
            output: pred.map(String::from),
            answer: pred.map(|p| Answer::Label(p.into())),
            gold: Answer::Label(gold.into()),
            correct: pred == Some(gold),
            invalid: pred.is_none().then(|| "no label".into()),
            error: None,
            latency_ms,
            prompt_tokens: 100_000,
            completion_tokens: 1_000,
            cached: false,
            examples: vec![],
        }
    }

    #[test]
    fn scores_intervals_regressions_and_cost() {
        let job = job();
        let golds = ["pos", "pos", "neg", "neg", "pos", "neg", "pos", "neg"];
        let mut results = Vec::new();
        for (i, g) in golds.iter().enumerate() {
            // The baseline is always right; the other variant always says "pos" and misses one item.
            results.push(result("base", i, g, Some(g), 100 + i as u64));
            results.push(result("hosted", i, g, if i == 0 { None } else { Some("pos") }, 10));
        }
        let variants = vec![
            Variant {
                name: "base".into(),
                spec: VariantSpec { profile: "local".into(), ..Default::default() },
            },
            Variant {
                name: "hosted".into(),
                spec: VariantSpec { profile: "hosted".into(), ..Default::default() },
            },
        ];
        let parsers = BTreeMap::new();
        let s = summarize(&job.task, &variants, &parsers, &results, "base", &job);
        assert_eq!(s.best.as_deref(), Some("base"));
        let (base, hosted) = (&s.variants[0], &s.variants[1]);
        assert_eq!(base.main, Some(1.0));
        assert_eq!(base.interval.map(|i| (i.low, i.high)), Some((1.0, 1.0)));
        // hosted: pos items 1, 4, 6 right (item 0 invalid); neg never predicted.
        // pos: P = 3/7, R = 3/4 → F1 = 6/11; neg: F1 = 0 → macro = 3/11.
        assert!((hosted.main.unwrap() - 3.0 / 11.0).abs() < 1e-12);
        assert_eq!(hosted.values["accuracy"], Some(3.0 / 8.0));
        assert_eq!(hosted.values["invalid_rate"], Some(1.0 / 8.0));
        assert_eq!(hosted.invalid, 1);
        let d = hosted.vs_baseline.expect("paired comparison");
        assert!((d.diff - (3.0 / 11.0 - 1.0)).abs() < 1e-12);
        assert!(hosted.regression && !hosted.improvement && d.interval.high < 0.0);
        assert!(base.vs_baseline.is_none() && !base.regression);
        // 8 items × 100k tokens in at $2/M + 8 × 1k out at $10/M; the local profile has no price.
        assert!((hosted.cost_usd - (0.8 * 2.0 + 0.008 * 10.0)).abs() < 1e-9);
        assert_eq!(base.cost_usd, 0.0);
        // Latency percentiles over the 7 answered items only.
        assert_eq!(hosted.latency_p50_ms, Some(10.0));
        assert_eq!(base.latency_p50_ms, Some(103.5));
        let tracked = s.tracked_metrics();
        assert_eq!(tracked.get("hosted/accuracy"), Some(&0.375));
        assert!(tracked.contains_key("hosted/main_diff"));
    }
}
