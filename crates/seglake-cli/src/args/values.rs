//! Value parsers for flags whose values have units or structure. Each
//! message quotes the bad value and shows the forms that work; clap adds
//! the flag's name.

use std::time::Duration;

/// An interval: 500ms, 10s, 1m, 2h; more than zero.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let (n, unit) = split_number(text);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not an interval such as 500ms, 10s or 1m"))?;
    let interval = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("`{text}`: the unit is ms, s, m or h")),
    };
    if interval.is_zero() {
        return Err("the interval must be more than zero".into());
    }
    Ok(interval)
}

/// A retention period: 36h, 1825d, 12w (or seconds, 0s).
pub fn parse_period(text: &str) -> Result<chrono::Duration, String> {
    let (n, unit) = split_number(text);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a period such as 1825d, 12w or 36h"))?;
    match unit {
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        "w" => Ok(chrono::Duration::weeks(n)),
        "s" => Ok(chrono::Duration::seconds(n)),
        _ => Err(format!("`{text}`: unknown unit `{unit}`; use s, h, d or w")),
    }
}

/// A size in bytes: 1073741824, 512M, 8G, 8GiB, 8GB (all powers of 1024).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let (n, unit) = split_number(text);
    let n: usize = n
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 8G, 512M or 1073741824"))?;
    let scale = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; use K, M, G or T")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// `--var NAME=VALUE`; the value may be empty or hold `=`.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// The start of a window: an RFC 3339 time, or a date meaning its first
/// instant (midnight UTC), so `--from D --to D` is the whole day D.
pub fn parse_window_start(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) => Ok(d.and_hms_opt(0, 0, 0).expect("valid time").and_utc()),
        Err(_) => parse_time(text),
    }
}

/// An RFC 3339 time or a date (its last instant), as the audit crate
/// reads them.
pub fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    seglake_audit::parse_point_in_time(text)
}

/// `--as-of`: an RFC 3339 time that is not in the future (a run describes
/// what has happened). A value the user must fix: exit 1.
pub fn parse_as_of(text: &str) -> Result<chrono::DateTime<chrono::Utc>, crate::exit::InvalidInput> {
    let invalid = |m: String| crate::exit::InvalidInput(m);
    let time = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|e| {
            invalid(format!(
                "`{text}` is not an RFC 3339 time such as 2026-01-01T00:00:00Z: {e}"
            ))
        })?
        .with_timezone(&chrono::Utc);
    let now = chrono::Utc::now();
    if time > now {
        return Err(invalid(format!(
            "`{text}` is in the future (it is now {}): a run describes what has happened",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok(time)
}

/// A backfill step: days, weeks, months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Days(u32),
    Months(u32),
}

impl Step {
    /// The `i`-th point from `start`: months are added to `start` itself
    /// (not step by step), so a run of month-ends does not drift.
    pub fn nth(
        self,
        start: chrono::DateTime<chrono::Utc>,
        i: u32,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Step::Days(d) => start.checked_add_signed(chrono::Duration::days(i64::from(d * i))),
            Step::Months(m) => start.checked_add_months(chrono::Months::new(m * i)),
        }
    }
}

/// `--every`: 1d, 2w, 1mo, 3mo, 1y; more than zero.
pub fn parse_step(text: &str) -> Result<Step, String> {
    let (n, unit) = split_number(text);
    let n: u32 = n
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a step such as 1d, 1w, 1mo or 1y"))?;
    match unit {
        "d" => Ok(Step::Days(n)),
        "w" => Ok(Step::Days(7 * n)),
        "mo" => Ok(Step::Months(n)),
        "y" => Ok(Step::Months(12 * n)),
        _ => Err(format!("`{text}`: the unit is d, w, mo or y")),
    }
}

/// `"  12w "` -> `("12", "w")`: the leading digits and the unit after them.
fn split_number(text: &str) -> (&str, &str) {
    let t = text.trim();
    t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_the_number() {
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval(" 2h "), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_period("12w"), Ok(chrono::Duration::weeks(12)));
        assert_eq!(parse_bytes("8GiB"), Ok(8 << 30));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("1024"), Ok(1024));
    }

    #[test]
    fn a_date_window_covers_the_whole_day() {
        let from = parse_window_start("2026-01-01").unwrap();
        let to = parse_time("2026-01-01").unwrap();
        assert_eq!(from.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(
            to - from,
            chrono::Duration::days(1) - chrono::Duration::microseconds(1)
        );
        assert_eq!(
            parse_window_start("2026-01-01T12:00:00Z")
                .unwrap()
                .to_rfc3339(),
            "2026-01-01T12:00:00+00:00"
        );
    }

    #[test]
    fn a_zero_interval_is_refused() {
        assert!(parse_interval("0s").unwrap_err().contains("more than zero"));
    }

    #[test]
    fn an_unknown_unit_names_the_valid_ones() {
        assert_eq!(
            parse_period("3y").unwrap_err(),
            "`3y`: unknown unit `y`; use s, h, d or w"
        );
        assert_eq!(
            parse_bytes("3P").unwrap_err(),
            "`3P`: unknown unit `P`; use K, M, G or T"
        );
        assert_eq!(
            parse_interval("3d").unwrap_err(),
            "`3d`: the unit is ms, s, m or h"
        );
    }

    #[test]
    fn a_var_needs_a_name() {
        assert_eq!(parse_var("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_var("lake="), Ok(("lake".into(), String::new())));
        assert!(parse_var("=x").is_err());
        assert!(parse_var("lake").is_err());
    }
}
