//! Fixed facts the generator draws from.

/// Transactions and events fall in `[WINDOW_START, WINDOW_END)`, seconds
/// since the Unix epoch: the calendar year 2025. Fixed so that the same seed
/// gives the same data on any day.
pub const WINDOW_START: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
pub const WINDOW_END: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
pub const DAY: i64 = 86_400;

/// ISO 3166-1 alpha-2 codes of the FATF lists of June 2025 ("black" and
/// "grey"); the same list ships as `reference/high_risk_jurisdictions.csv`
/// for the feature views.
pub const HIGH_RISK_COUNTRIES: &[&str] = &[
    "KP", "IR", "MM", "DZ", "AO", "BO", "BG", "BF", "CM", "CI", "CD", "HT", "KE", "LA", "LB", "MC",
    "MZ", "NA", "NP", "NG", "ZA", "SS", "SY", "VE", "VN", "VG", "YE",
];

/// Where the bank's customers live: mostly at home (a euro-area bank), with
/// a tail of foreign residents.
pub const RESIDENCE: &[(&str, f64)] = &[
    ("DE", 0.80),
    ("AT", 0.05),
    ("NL", 0.03),
    ("FR", 0.03),
    ("PL", 0.02),
    ("TR", 0.02),
    ("GB", 0.02),
    ("US", 0.015),
    ("NG", 0.005),
    ("AE", 0.005),
    ("VN", 0.005),
];

/// Ordinary foreign counterparties (trade partners, holidays).
pub const ORDINARY_FOREIGN: &[&str] = &["AT", "NL", "FR", "IT", "ES", "PL", "GB", "US", "CH", "CZ"];

pub const OCCUPATIONS: &[&str] = &[
    "employee",
    "civil servant",
    "engineer",
    "teacher",
    "nurse",
    "student",
    "retired",
    "self-employed",
];
pub const SECTORS: &[&str] = &[
    "retail trade",
    "consulting",
    "construction",
    "logistics",
    "software",
    "manufacturing",
];
pub const CASH_SECTORS: &[&str] = &[
    "restaurant",
    "car wash",
    "convenience store",
    "nail salon",
    "used cars",
];

pub const CARD_CATEGORIES: &[&str] = &[
    "grocery",
    "restaurants",
    "fuel",
    "travel",
    "online_retail",
    "electronics",
    "utilities",
    "gambling",
];
