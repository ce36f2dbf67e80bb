//! `bullpen data …` on the demo universe and on broken user data: tables, JSON, and errors
//! that name what was wrong and where.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn data(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("bullpen").expect("the bullpen binary is built");
    cmd.env_remove("BULLPEN_DATA").env("NO_COLOR", "1").arg("data").args(args);
    cmd
}

#[test]
fn prices_as_json_in_a_date_range() {
    let out =
        data(&["prices", "AAPL", "--from", "2024-03-01", "--to", "2024-03-08", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let bars = v["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 6);
    assert_eq!(bars[0]["date"], "2024-03-01");
    assert_eq!(bars[5]["close"], 170.729996);
    assert_eq!(v["adjustment"], "column");
}

#[test]
fn facts_filing_items_and_ratios_as_tables() {
    data(&["facts", "AAPL", "--period", "FY2024", "--concept", "us-gaap:NetIncomeLoss"])
        .assert()
        .success()
        .stdout(predicate::str::contains("93,736,000,000").and(predicate::str::contains("filed 2024-11-01")));
    data(&["filing", "AAPL"]).assert().success().stdout(
        predicate::str::contains("Item 1A")
            .and(predicate::str::contains("Item 7"))
            .and(predicate::str::contains("Item 8")),
    );
    data(&["filing", "AAPL", "--item", "1A"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Risk Factors"));
    data(&["ratios", "AAPL", "--as-of", "2024-03-08"]).assert().success().stdout(
        predicate::str::contains("Gross margin")
            .and(predicate::str::contains("FY2023"))
            .and(predicate::str::contains("52-week high"))
            .and(predicate::str::contains("absent:")),
    );
    let out = data(&["ratios", "AAPL", "--as-of", "2024-03-08", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["as_of"], "2024-03-08");
    assert!(v["periods"].as_array().unwrap().iter().any(|p| p["label"] == "FY2023"));
}

#[test]
fn unknown_ticker_and_missing_item_are_clear_errors() {
    data(&["prices", "ZZZZ"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown ticker \"ZZZZ\"").and(predicate::str::contains("prices")));
    data(&["filing", "AAPL", "--item", "99"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no Item 99").and(predicate::str::contains("Items found: Item 1")));
}

#[test]
fn bad_user_data_is_named_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices");
    std::fs::create_dir_all(&prices).unwrap();
    std::fs::write(prices.join("NOVOL.csv"), "Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n").unwrap();
    std::fs::write(
        prices.join("TXT.csv"),
        "Date,Open,High,Low,Close,Volume\n2024-01-02,1,1,1,1,10\n2024-01-03,1,1,1,one,10\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    data(&["prices", "NOVOL", "--data", d])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NOVOL.csv").and(predicate::str::contains("missing volume column")));
    data(&["prices", "TXT"]).env("BULLPEN_DATA", d).assert().success().stdout(
        predicate::str::contains("1 bars")
            .and(predicate::str::contains("TXT.csv:3"))
            .and(predicate::str::contains("\"one\" is not a number")),
    );

    // Column names mapped by DIR/universe.toml; a typo in it is named.
    std::fs::write(prices.join("MAPPED.csv"), "day,o,h,l,c,v\n08.03.2024,1,2,0.5,1.5,10\n").unwrap();
    std::fs::write(
        dir.path().join("universe.toml"),
        "[prices]\ndate = \"day\"\nopen = \"o\"\nhigh = \"h\"\nlow = \"l\"\nclose = \"c\"\nvolume = \"v\"\ndate_format = \"%d.%m.%Y\"\n",
    )
    .unwrap();
    data(&["prices", "MAPPED", "--data", d, "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2024-03-08"));
    std::fs::write(dir.path().join("universe.toml"), "[prices]\ndat = \"day\"\n").unwrap();
    data(&["prices", "MAPPED", "--data", d])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("universe.toml").and(predicate::str::contains("dat")));
    std::fs::remove_file(dir.path().join("universe.toml")).unwrap();

    let html = dir.path().join("page.html");
    std::fs::write(&html, "<html><body><p>Hello</p></body></html>").unwrap();
    data(&["facts", "--file", html.to_str().unwrap(), "--data", d])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("page.html").and(predicate::str::contains("inline XBRL")));
    assert!(Path::new(d).join("prices/TXT.csv").exists(), "input files are never touched");
}
