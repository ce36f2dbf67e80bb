//! Display of values: thousands separators, ratio units.

use super::engine::RatioValue;
use super::ratios::Unit;

/// Thousands separators, up to 4 decimals without trailing zeros.
pub fn fmt_number(v: f64) -> String {
    let neg = v < 0.0;
    let a = v.abs();
    let (int, frac) = if a.fract() == 0.0 && a < 1e18 {
        (format!("{a:.0}"), String::new())
    } else {
        let s = format!("{a:.4}");
        let (i, f) = s.split_once('.').unwrap_or((&s, ""));
        (i.to_string(), f.trim_end_matches('0').to_string())
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
    format!("{}{grouped}{frac}", if neg { "-" } else { "" })
}

/// A ratio value for a table: `46.2%`, `31.4x`, `$6.08`, `391,035M`.
pub fn fmt_value(v: &RatioValue) -> String {
    match v.value {
        None => "—".into(),
        Some(x) => match v.unit {
            Unit::Fraction => format!("{:.1}%", x * 100.0),
            Unit::Multiple => format!("{x:.2}x"),
            Unit::PerShare => format!("{x:.2}"),
            Unit::Currency => format!("{}M", fmt_number((x / 1e6).round())),
        },
    }
}
