//! What each column is for, from its type and name: identifiers, times,
//! amounts, other measures, flags, short codes (categories), possible risk
//! labels, and the rest (free text), which the starter views leave out.

use arrow::datatypes::DataType;

use crate::inspect::{Column, is_text_type, is_time_type};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Named like an identifier, of integer or text type: a key candidate,
    /// never a feature (an id's size means nothing).
    Id,
    /// A date or timestamp.
    Time,
    /// Text named like a time (`paid_at`, `value_date`): it would need a cast
    /// the starter views do not guess.
    TextTime,
    /// Money that flows: summed, averaged, spread and maximum.
    Amount,
    /// Money that is a level (a balance): averaged, minimum and maximum.
    Balance,
    /// Another number: averaged and maximum.
    Measure,
    /// True/false: counted.
    Flag,
    /// A short code: counted per value (the values seen in the sample).
    Category(Vec<String>),
    /// Named like an outcome (fraud, label, SAR, status): kept out of the
    /// features, proposed as a risk label.
    Label,
    /// Free text, binary, nested: left out.
    Other,
}

impl Role {
    pub fn describe(&self) -> &'static str {
        match self {
            Role::Id => "identifier",
            Role::Time => "time",
            Role::TextTime => "time as text",
            Role::Amount => "amount",
            Role::Balance => "balance",
            Role::Measure => "number",
            Role::Flag => "flag",
            Role::Category(_) => "category",
            Role::Label => "possible label",
            Role::Other => "not used",
        }
    }
}

const MONEY_WORDS: &[&str] = &[
    "amount",
    "amt",
    "value",
    "payment",
    "payments",
    "paid",
    "price",
    "cost",
    "fee",
    "fees",
    "total",
    "sum",
    "volume",
    "salary",
    "income",
    "revenue",
    "deposit",
    "withdrawal",
    "credit",
    "debit",
    "eur",
    "usd",
    "gbp",
    "chf",
    "czk",
    "money",
    "cash",
    "principal",
    "limit",
];
const BALANCE_WORDS: &[&str] = &["balance", "bal"];
const LABEL_WORDS: &[&str] = &[
    "fraud",
    "label",
    "target",
    "sar",
    "laundering",
    "suspicious",
    "outcome",
    "status",
    "isfraud",
];
const TIME_WORDS: &[&str] = &["date", "time", "timestamp", "ts", "datetime", "day"];

pub fn classify(column: &Column) -> Role {
    let name = crate::names::identifier(&column.name, "c");
    let words: Vec<&str> = name.split('_').collect();
    let t = &column.data_type;
    if is_id_name(&column.name) && (t.is_integer() || is_text_type(t)) {
        return Role::Id;
    }
    if is_label_name(&words) {
        return Role::Label;
    }
    if is_time_type(t) {
        return Role::Time;
    }
    if matches!(t, DataType::Boolean) || (t.is_integer() && is_flag(&words, column)) {
        return Role::Flag;
    }
    if t.is_numeric() {
        let decimal = matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        );
        if words.iter().any(|w| BALANCE_WORDS.contains(w)) {
            return Role::Balance;
        }
        if decimal || words.iter().any(|w| MONEY_WORDS.contains(w)) {
            return Role::Amount;
        }
        return Role::Measure;
    }
    if is_text_type(t) {
        if words.iter().any(|w| TIME_WORDS.contains(w)) || name.ends_with("_at") {
            return Role::TextTime;
        }
        if let Some(values) = &column.values {
            return Role::Category(values.clone());
        }
    }
    Role::Other
}

/// `customer_id`, `id`, `member_no`, `account_number`, `customerId`,
/// `nodeid`: the ways a key column is spelt.
pub fn is_id_name(name: &str) -> bool {
    let snake = crate::names::identifier(name, "c");
    if snake == "id" {
        return true;
    }
    let suffixes = ["_id", "_no", "_nr", "_num", "_number", "_key", "_ref"];
    if suffixes.iter().any(|s| snake.ends_with(s)) {
        return true;
    }
    // `nodeid`, `custid`: an id glued to a known noun.
    let glued = snake
        .strip_suffix("id")
        .or_else(|| snake.strip_suffix("no"));
    glued.is_some_and(|stem| ENTITY_WORDS.contains(&stem) || stem == "node" || stem == "cust")
}

/// Nouns that name the party a compliance team segments.
pub const ENTITY_WORDS: &[&str] = &[
    "customer",
    "client",
    "account",
    "member",
    "party",
    "person",
    "user",
    "holder",
    "subscriber",
    "cust",
    "acct",
    "owner",
    "entity",
];

fn is_label_name(words: &[&str]) -> bool {
    words.iter().any(|w| LABEL_WORDS.contains(w)) || words.join("").starts_with("isfraud")
}

/// `is_*`, `has_*`, `*_flag` integers whose statistics stay within 0..=1.
fn is_flag(words: &[&str], column: &Column) -> bool {
    let named =
        matches!(words.first(), Some(&"is") | Some(&"has")) || words.last() == Some(&"flag");
    named && column.int_range.is_none_or(|(lo, hi)| lo >= 0 && hi <= 1)
}
