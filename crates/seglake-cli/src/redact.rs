//! Secrets never reach the terminal or a log collector: every log line and
//! error message the binary prints passes through [`redact`], which masks
//! the values of the environment variables that hold credentials. Library
//! code does not print secrets on purpose; this catches what dependencies
//! do (object_store and delta-rs builders print options in their Debug
//! output, and a `debug` log of them would).

use std::io::Write;
use std::sync::OnceLock;

/// The variables whose values are masked.
const SECRET_VARIABLES: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "SEGLAKE_API_TOKEN",
    "SEGLAKE_PSEUDONYM_KEY",
    "OPENLINEAGE_API_KEY",
];

/// Shorter values are not masked: they would mask ordinary words.
const MIN_SECRET_LEN: usize = 6;

fn secrets() -> &'static [String] {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        SECRET_VARIABLES
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| v.len() >= MIN_SECRET_LEN)
            .collect()
    })
}

/// `text` with every secret value replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for secret in secrets() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Standard error, through [`redact`]. The fmt layer writes each event as
/// one buffer, so a secret is never split between two writes.
pub struct RedactedStderr;

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
