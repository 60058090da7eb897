//! SQL text: checking that a query is one SELECT, quoting names, and the
//! statements a snapshot runs.

use crate::error::{PostgresError, Result};

/// Quotes `name` as a PostgreSQL identifier, taken exactly as written
/// (case and all).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table named `table` or `schema.table`, each part taken exactly as
/// written (no case folding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    pub fn parse(text: &str) -> Result<Self> {
        let bad =
            || PostgresError::Invalid(format!("table `{text}` is not `name` or `schema.name`"));
        let (schema, name) = match text.split_once('.') {
            Some((schema, name)) => (Some(schema.to_string()), name.to_string()),
            None => (None, text.to_string()),
        };
        if name.is_empty() || name.contains('.') || schema.as_deref() == Some("") {
            return Err(bad());
        }
        Ok(TableName { schema, name })
    }

    /// The quoted, possibly schema-qualified name.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

/// Checks that `query` is one SELECT or WITH statement and returns it
/// without trailing semicolons. The check is lexical and conservative
/// (comments, strings, quoted names and dollar quotes are skipped, so a
/// `;` inside them is harmless); the read-only transaction every query runs
/// in is the second guard, against writes hidden in functions or CTEs.
pub(crate) fn check_select(query: &str) -> Result<String> {
    let not_select = |reason: String| PostgresError::NotASelect { reason };
    let tokens = scan(query).map_err(|r| not_select(r.to_string()))?;
    let first = tokens.iter().find_map(|t| match t {
        Token::Word(range) => Some(query[range.clone()].to_ascii_lowercase()),
        Token::Semicolon(_) => None,
    });
    match first.as_deref() {
        None => return Err(not_select("it is empty".into())),
        Some("select") | Some("with") => {}
        Some(word) => {
            return Err(not_select(format!(
                "it starts with `{}`",
                word.to_uppercase()
            )));
        }
    }
    let mut end = query.len();
    if let Some(Token::Semicolon(at)) = tokens.iter().find(|t| matches!(t, Token::Semicolon(_))) {
        // A `;` is only allowed when nothing but more `;` follows.
        if tokens
            .iter()
            .any(|t| matches!(t, Token::Word(r) if r.start > *at))
        {
            return Err(not_select("it holds more than one statement".into()));
        }
        end = *at;
    }
    Ok(query[..end].trim().to_string())
}

/// What the check needs to see of a query: its words (outside strings and
/// comments) and its top-level semicolons, by byte offset.
#[derive(Debug)]
enum Token {
    Word(std::ops::Range<usize>),
    Semicolon(usize),
}

fn scan(q: &str) -> std::result::Result<Vec<Token>, &'static str> {
    let b = q.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i = match c {
            b'-' if b.get(i + 1) == Some(&b'-') => q[i..].find('\n').map_or(b.len(), |n| i + n),
            b'/' if b.get(i + 1) == Some(&b'*') => skip_block_comment(b, i)?,
            b'\'' => skip_quoted(b, i, b'\'', false)?,
            b'"' => skip_quoted(b, i, b'"', false)?,
            b'$' => skip_dollar(q, i)?,
            b';' => {
                tokens.push(Token::Semicolon(i));
                i + 1
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                let mut j = i;
                while j < b.len() && is_word_byte(b[j]) {
                    j += 1;
                }
                // E'...': a string in which backslash escapes a quote.
                if j == start + 1 && (c == b'e' || c == b'E') && b.get(j) == Some(&b'\'') {
                    skip_quoted(b, j, b'\'', true)?
                } else {
                    tokens.push(Token::Word(start..j));
                    j
                }
            }
            _ => i + 1,
        };
    }
    Ok(tokens)
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The offset after the block comment at `i` (comments nest in PostgreSQL).
fn skip_block_comment(b: &[u8], mut i: usize) -> std::result::Result<usize, &'static str> {
    let mut depth = 0;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => i += 1,
        }
    }
    Err("a /* comment is not closed")
}

/// The offset after the string or quoted name opening at `i`; a doubled
/// quote is part of it, and so is a backslash-escaped one in an E-string.
fn skip_quoted(
    b: &[u8],
    mut i: usize,
    quote: u8,
    backslash: bool,
) -> std::result::Result<usize, &'static str> {
    i += 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote && b.get(i + 1) == Some(&quote) {
            i += 2;
        } else if b[i] == quote {
            return Ok(i + 1);
        } else {
            i += 1;
        }
    }
    Err(if quote == b'"' {
        "a quoted name is not closed"
    } else {
        "a string is not closed"
    })
}

/// The offset after the dollar-quoted string at `i` (`$$...$$` or
/// `$tag$...$tag$`); a `$` that opens none (`$1`) is skipped alone.
fn skip_dollar(q: &str, i: usize) -> std::result::Result<usize, &'static str> {
    let rest = &q[i + 1..];
    let tag_len = rest
        .bytes()
        .take_while(|&c| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80)
        .count();
    let starts_with_digit = rest.bytes().next().is_some_and(|c| c.is_ascii_digit());
    if starts_with_digit || rest.as_bytes().get(tag_len) != Some(&b'$') {
        return Ok(i + 1);
    }
    let delimiter = &q[i..i + tag_len + 2];
    let body = i + delimiter.len();
    match q[body..].find(delimiter) {
        Some(n) => Ok(body + n + delimiter.len()),
        None => Err("a dollar-quoted string is not closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(query: &str) -> String {
        match check_select(query) {
            Err(PostgresError::NotASelect { reason }) => reason,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn selects_pass_and_lose_their_semicolons() {
        assert_eq!(check_select(" select 1 ;; ").unwrap(), "select 1");
        assert_eq!(
            check_select("-- why\nWITH x AS (SELECT 1) SELECT * FROM x; -- done").unwrap(),
            "-- why\nWITH x AS (SELECT 1) SELECT * FROM x"
        );
        let tricky = "SELECT ';', \"a;b\", $$;$$, $t$ ' $t$, E'\\';' /* ; /* ; */ */ FROM t";
        assert_eq!(check_select(tricky).unwrap(), tricky);
    }

    #[test]
    fn other_statements_are_named() {
        assert_eq!(reason("DELETE FROM t"), "it starts with `DELETE`");
        assert_eq!(
            reason("/* select */ update t set a = 1"),
            "it starts with `UPDATE`"
        );
        assert_eq!(reason("  ; "), "it is empty");
        assert_eq!(
            reason("SELECT 1; DROP TABLE t"),
            "it holds more than one statement"
        );
        assert_eq!(reason("SELECT 'x"), "a string is not closed");
        assert_eq!(reason("SELECT 1 /* x"), "a /* comment is not closed");
    }

    #[test]
    fn table_names_are_quoted_exactly() {
        let t = TableName::parse("core.Customers").unwrap();
        assert_eq!(t.quoted(), "\"core\".\"Customers\"");
        assert_eq!(TableName::parse("a\"b").unwrap().quoted(), "\"a\"\"b\"");
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse(".b").is_err());
    }
}
