//! Sanctions screening: which listed persons and entities a name may be.
//!
//! ```text
//! list rows --formats--> SanctionsList --index--> ScreeningIndex
//! name --normalize--> tokens --candidates (blocking)--> align (score) --> Match
//! ```
//!
//! - [`normalize`]: transliteration to ASCII, case, punctuation, legal
//!   forms and honorifics, token order;
//! - [`jaro`]: Jaro-Winkler of two tokens, as `rapidfuzz` computes it;
//! - [`align`]: the name score, tokens paired one to one;
//! - [`formats`]: the OFAC SDN layout and a bank's own list;
//! - [`index`]: the blocking index and screening many names on threads.
//!
//! Nothing here reads files or knows about DataFusion: the job reads the
//! list like any source and hands its rows to [`ListFormat::read`].

pub mod align;
mod error;
pub mod formats;
pub mod index;
pub mod jaro;
pub mod list;
pub mod normalize;

pub use error::{Result, ScreeningError};
pub use formats::{ListFormat, check_columns};
pub use index::{Match, ScreeningIndex, block_keys, screen_all};
pub use list::{EntryType, ListEntry, ListedName, NameKind, SanctionsList};
pub use normalize::{MAX_NAME_CHARS, NormalizedName, normalize};

/// The similarity of two names, as screening scores them (0 to 1): both
/// normalised, tokens aligned.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (normalize(a), normalize(b));
    let lens = |n: &NormalizedName| n.tokens.iter().map(String::len).collect::<Vec<_>>();
    align::align(&lens(&a), &lens(&b), |q, l| {
        jaro::jaro_winkler(a.tokens[q].as_bytes(), b.tokens[l].as_bytes())
    })
    .score
}
