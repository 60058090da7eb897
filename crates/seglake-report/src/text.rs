//! Values as the page prints them, escaped for HTML.

use serde_json::Value;

/// Text made safe for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as text (`-` for none or null), escaped.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => esc(s),
        Some(other) => esc(&other.to_string()),
    }
}

/// A whole number with thousands separators (`-` when not a number).
pub fn int(value: &Value) -> String {
    let Some(n) = value.as_f64().filter(|n| n.is_finite()) else {
        return "-".into();
    };
    let digits = format!("{}", n.round().abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 { format!("-{out}") } else { out }
}

/// A number rounded to `digits` decimals (`-` when not a number).
pub fn num(value: &Value, digits: usize) -> String {
    match value.as_f64() {
        Some(n) if n.is_finite() => format!("{n:.digits$}"),
        _ => "-".into(),
    }
}

/// A feature value as people read it: whole numbers without decimals,
/// others to four decimals without trailing zeros.
pub fn value(value: &Value) -> String {
    let text = num(value, 4);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A share as a percentage with one decimal (`-` when not a number).
pub fn pct(value: &Value) -> String {
    match value.as_f64() {
        Some(n) if n.is_finite() => format!("{:.1}%", 100.0 * n),
        _ => "-".into(),
    }
}

/// Bytes in the largest whole unit.
pub fn bytes(n: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_printed() {
        assert_eq!(int(&json!(1234567)), "1,234,567");
        assert_eq!(int(&json!(999)), "999");
        assert_eq!(int(&json!(-4200)), "-4,200");
        assert_eq!(int(&json!(null)), "-");
        assert_eq!(num(&json!(0.73158), 4), "0.7316");
        assert_eq!(pct(&json!(0.524)), "52.4%");
        assert_eq!(value(&json!(42.0)), "42");
        assert_eq!(value(&json!(2699.49)), "2699.49");
        assert_eq!(value(&json!(0.123456)), "0.1235");
        assert_eq!(bytes(5_970_732), "5.7 MiB");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
