//! Synthetic bank data with the customer archetypes compliance teams know,
//! written as Parquet tables a bank would have:
//!
//! | table | one row per |
//! |---|---|
//! | `customers` | customer: onboarding date, residence, retail/business, occupation or sector, KYC rating, name |
//! | `transactions` | transaction: time, amount, currency, direction, channel, merchant category, counterparty, its country and name |
//! | `events` | behavioural event: login, API call, page view, password reset, beneficiary added; device, IP country, session, duration |
//! | `case_outcomes` | closed alert: alert date, outcome (SAR filed, true/false positive, no action), decision time |
//! | `ground_truth` | customer: the archetype it was generated from (for tests, never for jobs) |
//! | `screening_truth` | planted name: the SDN entry a near-match was made from, or none for a look-alike (for tests, never for jobs) |
//!
//! The data is dirty on purpose, as real feeds are: replayed duplicate
//! transactions, missing countries and occupations, and extreme amounts.
//!
//! Customers are generated in parts of [`PART_SIZE`]; each part has its own
//! random stream (ChaCha8, stream = part number), so the output depends only
//! on the seed and the customer count, not on the number of threads, and
//! memory stays bounded by `threads x PART_SIZE` however many customers are
//! asked for. Each part becomes one Parquet file per table.

mod archetype;
mod columns;
mod generate;
pub mod names;
mod reference;

pub use archetype::Archetype;
pub use generate::{GenerateError, GenerateOptions, GenerateSummary, PART_SIZE, generate};
pub use reference::{HIGH_RISK_COUNTRIES, WINDOW_END, WINDOW_START};

/// Arrow schemas of the generated tables, for tests and tools that build the
/// same tables by hand.
pub mod schemas {
    use arrow::datatypes::SchemaRef;

    pub fn customers() -> SchemaRef {
        crate::columns::Customers::schema()
    }
    pub fn transactions() -> SchemaRef {
        crate::columns::Transactions::schema()
    }
    pub fn events() -> SchemaRef {
        crate::columns::Events::schema()
    }
    pub fn case_outcomes() -> SchemaRef {
        crate::columns::Cases::schema()
    }
    pub fn screening_truth() -> SchemaRef {
        crate::columns::ScreeningTruth::schema()
    }
    pub fn ground_truth() -> SchemaRef {
        crate::columns::ground_truth_schema()
    }
}
