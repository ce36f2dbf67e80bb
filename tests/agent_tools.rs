//! Every agent tool on the demo universe in `data/`, called as the runtime calls it (JSON
//! arguments checked against the tool's schema first).

use std::path::Path;
use std::sync::Arc;

use bullpen::agents::tools::{Lexicon, ToolBox, ToolContext, ToolError, ToolOutput, validate_arguments};
use serde_json::{Value, json};

fn ctx(artifacts: &Path, lexicon: Option<Lexicon>) -> ToolContext {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ToolContext {
        universe: Arc::new(bullpen::io::datasets::open_universe(&root.join("data")).expect("demo universe")),
        rag: None,
        artifacts: artifacts.to_path_buf(),
        lexicon: lexicon.map(Arc::new),
        model: None,
        index_ticker: "^GSPC".into(),
        as_of: None,
        companies: Default::default(),
    }
}

async fn call(ctx: &ToolContext, name: &str, args: Value) -> Result<ToolOutput, ToolError> {
    let tool = ToolBox::builtin().get(name).expect("tool");
    validate_arguments(&tool.spec(), &args)?;
    tool.call(args, ctx).await
}

#[tokio::test]
async fn prices_report_the_last_close_and_market_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    let out = call(&c, "prices", json!({"ticker": "ko", "bars": 2})).await.expect("prices");
    let v = &out.content;
    assert_eq!(v["ticker"], "KO");
    assert_eq!(v["currency"], "USD");
    assert!(v["close"].as_f64().unwrap() > 0.0);
    assert_eq!(v["recent"].as_array().unwrap().len(), 2);
    assert!(v["metrics"]["volatility"].as_f64().is_some(), "{v}");
    // As of a past date, nothing after it is used.
    let past = call(&c, "prices", json!({"ticker": "KO", "as_of": "2020-06-30"})).await.expect("prices");
    assert!(past.content["date"].as_str().unwrap() <= "2020-06-30");
    // A company name resolves to its ticker.
    let named = call(&c, "prices", json!({"ticker": "Apple"})).await.expect("by name");
    assert_eq!(named.content["ticker"], "AAPL");
}

#[tokio::test]
async fn bad_arguments_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    assert!(matches!(
        call(&c, "prices", json!({"ticker": "KO", "bars": 50})).await,
        Err(ToolError::Invalid(_))
    ));
    assert!(matches!(call(&c, "prices", json!({})).await, Err(ToolError::Invalid(_))));
    let err = call(&c, "prices", json!({"ticker": "KO", "as_of": "yesterday"})).await.unwrap_err();
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    let err = call(&c, "prices", json!({"ticker": "BMW.DE"})).await.unwrap_err();
    assert!(matches!(err, ToolError::NotFound(_)) && err.to_string().contains("EUR"), "{err}");
}

#[tokio::test]
async fn ratios_and_statement_facts_come_with_sources() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    let r = call(&c, "ratios", json!({"ticker": "AAPL"})).await.expect("ratios");
    assert!(r.content["period"].as_str().unwrap().starts_with("FY"));
    assert!(r.content["ratios"]["gross_margin"].as_f64().unwrap() > 0.3);
    assert!(!r.content["sources"].as_array().unwrap().is_empty());
    let f =
        call(&c, "statement_facts", json!({"ticker": "AAPL", "statement": "income"})).await.expect("facts");
    assert!(f.content["lines"]["income"]["revenue"].as_f64().unwrap() > 1e11, "{}", f.content);
    assert!(f.content["lines"].get("balance").is_none());
    let s = call(&c, "statement_facts", json!({"ticker": "AAPL", "statement": "segments"}))
        .await
        .expect("segments");
    assert!(!s.content["revenue_by"].as_object().unwrap().is_empty(), "{}", s.content);
    let err = call(&c, "ratios", json!({"ticker": "AAPL", "period": "FY1999"})).await.unwrap_err();
    assert!(err.to_string().contains("known:"), "{err}");
}

#[tokio::test]
async fn a_filing_section_is_cited() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    let out = call(&c, "filing_section", json!({"ticker": "BA", "item": "1A", "max_chars": 500}))
        .await
        .expect("1A");
    assert!(out.content["section"].as_str().unwrap().contains("1A"));
    assert!(out.content["text"].as_str().unwrap().chars().count() <= 501);
    assert_eq!(out.citations.len(), 1);
    assert_eq!(out.citations[0].form.as_deref(), Some("10-K"));
    let err = call(&c, "filing_section", json!({"ticker": "BA", "item": "99"})).await.unwrap_err();
    assert!(err.to_string().contains("Items:"), "{err}");
}

#[tokio::test]
async fn the_calculator_evaluates_expressions_and_finqa_programs() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    let e = call(&c, "calculator", json!({"expression": "(391035 - 383285) / 383285 * 100"})).await.unwrap();
    assert!((e.content["result"].as_f64().unwrap() - 2.022).abs() < 1e-3);
    let p =
        call(&c, "calculator", json!({"program": "subtract(5829, 5735), divide(#0, 5735)"})).await.unwrap();
    assert!((p.content["result"].as_f64().unwrap() - 0.016390).abs() < 1e-5);
    let err = call(&c, "calculator", json!({"expression": "2 +"})).await.unwrap_err();
    assert!(err.to_string().contains("column"), "{err}");
}

#[tokio::test]
async fn charts_and_backtests_write_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    let chart =
        call(&c, "chart", json!({"ticker": "KO", "moving_averages": [50], "format": "svg"})).await.unwrap();
    let svg = std::fs::read_to_string(&chart.artifacts[0]).unwrap();
    assert!(svg.contains("<svg") && svg.contains("KO close"));
    let bt = call(&c, "backtest", json!({"ticker": "KO", "strategy": "sma_cross", "fast": 20, "slow": 50}))
        .await
        .unwrap();
    let v = &bt.content;
    assert_eq!(v["strategy"], "SMA 20/50 cross");
    for k in ["cagr", "sharpe", "sortino", "max_drawdown", "hit_rate", "turnover"] {
        assert!(v["strategy_metrics"].get(k).is_some(), "{k} in {v}");
    }
    assert!(v["index"]["metrics"]["total_return"].as_f64().is_some(), "compared with the index: {v}");
    let png = std::fs::read(&bt.artifacts[0]).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // Parameters chosen on history, scored out of sample.
    let chosen = call(&c, "backtest", json!({"ticker": "KO", "strategy": "momentum"})).await.unwrap();
    assert!(chosen.content["parameters"]["grid_points"].as_u64().unwrap() > 1);
    let err = call(&c, "backtest", json!({"ticker": "KO", "strategy": "sma_cross", "fast": 50, "slow": 20}))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn news_sentiment_with_the_lexicon() {
    let dir = tempfile::tempdir().unwrap();
    // A lexicon in the Loughran–McDonald format (the real one is not redistributable).
    let lm = "Word,Negative,Positive,Uncertainty,Litigious,Constraining\nLOSS,2009,0,0,0,0\nDOWN,2009,0,0,0,0\nGAIN,0,2009,0,0,0\nUP,0,2009,0,0,0\nBEAT,0,2009,0,0,0\n";
    let lex = Lexicon::parse(lm, Path::new("lm.csv")).unwrap();
    let c = ctx(dir.path(), Some(lex));
    let out = call(&c, "news_sentiment", json!({"ticker": "AAPL", "limit": 5})).await.expect("sentiment");
    let v = &out.content;
    assert_eq!(v["method"], "Loughran-McDonald lexicon");
    assert_eq!(v["items"], 5);
    let total =
        v["positive"].as_u64().unwrap() + v["negative"].as_u64().unwrap() + v["neutral"].as_u64().unwrap();
    assert_eq!(total, 5);
    let err = call(&c, "news_sentiment", json!({"ticker": "NVDA"})).await.unwrap_err();
    assert!(matches!(err, ToolError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn search_without_an_index_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), None);
    let err = call(&c, "search_documents", json!({"query": "supply chain"})).await.unwrap_err();
    assert!(err.to_string().contains("no document index"), "{err}");
}
