//! Ticker symbols with exchange suffixes (`7203.T`, `BMW.DE`, `VOD.L`): the exchange and the
//! currency prices are quoted in, known from the suffix even where the data has no prices.

use schemars::JsonSchema;
use serde::Serialize;

/// A parsed ticker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Ticker {
    /// As the data universe spells it: upper case, suffix kept (`7203.T`).
    pub symbol: String,
    /// The symbol without its exchange suffix (`7203`).
    pub base: String,
    /// The exchange suffix, if any (`T`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Exchange name (`Tokyo Stock Exchange`); US listings without a suffix are `US`.
    pub exchange: String,
    /// ISO 4217 currency of the quotes (`JPY`); London quotes are in pence (`GBp`).
    pub currency: String,
}

/// Yahoo-style exchange suffixes: (suffix, exchange, currency).
const SUFFIXES: &[(&str, &str, &str)] = &[
    ("T", "Tokyo Stock Exchange", "JPY"),
    ("DE", "XETRA", "EUR"),
    ("F", "Frankfurt Stock Exchange", "EUR"),
    ("L", "London Stock Exchange", "GBp"),
    ("PA", "Euronext Paris", "EUR"),
    ("AS", "Euronext Amsterdam", "EUR"),
    ("BR", "Euronext Brussels", "EUR"),
    ("MI", "Borsa Italiana", "EUR"),
    ("MC", "Bolsa de Madrid", "EUR"),
    ("SW", "SIX Swiss Exchange", "CHF"),
    ("ST", "Nasdaq Stockholm", "SEK"),
    ("OL", "Oslo Børs", "NOK"),
    ("CO", "Nasdaq Copenhagen", "DKK"),
    ("HE", "Nasdaq Helsinki", "EUR"),
    ("HK", "Hong Kong Stock Exchange", "HKD"),
    ("SS", "Shanghai Stock Exchange", "CNY"),
    ("SZ", "Shenzhen Stock Exchange", "CNY"),
    ("KS", "Korea Exchange", "KRW"),
    ("KQ", "KOSDAQ", "KRW"),
    ("TW", "Taiwan Stock Exchange", "TWD"),
    ("NS", "National Stock Exchange of India", "INR"),
    ("BO", "BSE", "INR"),
    ("AX", "Australian Securities Exchange", "AUD"),
    ("NZ", "New Zealand Exchange", "NZD"),
    ("TO", "Toronto Stock Exchange", "CAD"),
    ("V", "TSX Venture Exchange", "CAD"),
    ("SA", "B3", "BRL"),
    ("MX", "Bolsa Mexicana de Valores", "MXN"),
    ("JO", "Johannesburg Stock Exchange", "ZAc"),
    ("SI", "Singapore Exchange", "SGD"),
];

/// Why a ticker cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a ticker: {reason}")]
pub struct TickerError {
    pub input: String,
    pub reason: String,
}

impl Ticker {
    /// Parses `aapl`, `BRK.B`, `7203.T`, `BMW.DE`, `^GSPC`. A suffix that is not a known
    /// exchange is kept as part of the symbol (share classes: `BRK.B`), quoted in USD.
    pub fn parse(input: &str) -> Result<Self, TickerError> {
        let symbol = input.trim().to_uppercase();
        let err = |reason: &str| TickerError { input: input.to_string(), reason: reason.to_string() };
        if symbol.is_empty() {
            return Err(err("it is empty"));
        }
        if symbol.len() > 20 {
            return Err(err("longer than 20 characters"));
        }
        if !symbol.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '^' | '=')) {
            return Err(err("only letters, digits, `.`, `-`, `^` and `=` are allowed"));
        }
        if let Some((base, suffix)) = symbol.rsplit_once('.')
            && let Some((_, exchange, currency)) = SUFFIXES.iter().find(|(s, _, _)| *s == suffix)
        {
            if base.is_empty() {
                return Err(err("nothing before the exchange suffix"));
            }
            return Ok(Self {
                base: base.to_string(),
                suffix: Some(suffix.to_string()),
                exchange: exchange.to_string(),
                currency: currency.to_string(),
                symbol,
            });
        }
        let exchange = if symbol.starts_with('^') { "index" } else { "US" };
        Ok(Self {
            base: symbol.clone(),
            suffix: None,
            exchange: exchange.to_string(),
            currency: "USD".to_string(),
            symbol,
        })
    }

    /// The symbol as price files name it (`^GSPC` → `GSPC`).
    pub fn file_symbol(&self) -> &str {
        self.symbol.trim_start_matches('^')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_give_exchange_and_currency() {
        let t = Ticker::parse("7203.t").expect("parse");
        assert_eq!((t.symbol.as_str(), t.base.as_str(), t.currency.as_str()), ("7203.T", "7203", "JPY"));
        assert_eq!(t.exchange, "Tokyo Stock Exchange");
        let b = Ticker::parse("BMW.DE").expect("parse");
        assert_eq!((b.base.as_str(), b.currency.as_str()), ("BMW", "EUR"));
        assert_eq!(Ticker::parse("VOD.L").expect("parse").currency, "GBp");
    }

    #[test]
    fn us_tickers_and_share_classes_are_usd() {
        let a = Ticker::parse(" aapl ").expect("parse");
        assert_eq!((a.symbol.as_str(), a.exchange.as_str(), a.currency.as_str()), ("AAPL", "US", "USD"));
        let brk = Ticker::parse("BRK.B").expect("parse");
        assert_eq!((brk.base.as_str(), brk.suffix.as_deref()), ("BRK.B", None));
        assert_eq!(Ticker::parse("^GSPC").expect("parse").file_symbol(), "GSPC");
    }

    #[test]
    fn bad_tickers_are_refused_with_the_reason() {
        assert!(Ticker::parse("").is_err());
        assert!(Ticker::parse(".T").expect_err("no base").reason.contains("before"));
        assert!(Ticker::parse("AA PL").expect_err("space").to_string().contains("`AA PL`"));
    }
}
