//! The cases analysts decide through `POST /v1/feedback`: a disposition
//! that names an `alert_id` or a `case_id` must name a case of the lake's
//! `cases` table, of the same customer, in a state it may leave. The run
//! that follows applies the disposition to the case (its `events` say who
//! decided what, when).
//!
//! The book is the latest `cases` version, read again when a run publishes
//! a new one, with the dispositions this process accepted since laid over
//! it, so a case cannot be closed twice through one server.

use std::collections::HashMap;
use std::path::PathBuf;

use seglake_lake::cases::CaseState;
use seglake_spec::{CASES_TABLE, Location};
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::feedback::FeedbackItem;

#[derive(Default)]
struct Book {
    version: Option<i64>,
    /// Per case id: the customer and the state.
    cases: HashMap<String, (String, CaseState)>,
    /// The case of every alert.
    alert_case: HashMap<String, String>,
    /// States set by dispositions this process accepted since `version`.
    decided: HashMap<String, CaseState>,
}

pub struct CaseBook {
    table: Location,
    book: Mutex<Book>,
}

/// A disposition's case, checked.
struct Decision {
    case_id: String,
    to: CaseState,
}

/// The book, held for one checked disposition.
pub struct Held<'a> {
    book: tokio::sync::MutexGuard<'a, Book>,
    decision: Decision,
}

impl Held<'_> {
    /// Records the decision: call once the disposition is durable.
    pub fn record(mut self) {
        let Decision { case_id, to } = self.decision;
        self.book.decided.insert(case_id, to);
    }
}

impl CaseBook {
    pub fn new(lake: &std::path::Path) -> CaseBook {
        CaseBook {
            table: Location::Local(PathBuf::from(lake).join(CASES_TABLE)),
            book: Mutex::new(Book::default()),
        }
    }

    /// Checks `item` (a disposition naming an alert or a case) against the
    /// case states and fills in its `case_id`; `None` for items that name
    /// neither. The book stays held until the returned decision is
    /// recorded (after the item is durable) or dropped, so two
    /// dispositions of one case are decided one after the other.
    pub async fn hold(&self, item: &mut FeedbackItem) -> Result<Option<Held<'_>>, ApiError> {
        if item.alert_id.is_none() && item.case_id.is_none() {
            return Ok(None);
        }
        let mut book = self.book.lock().await;
        self.refresh(&mut book).await?;
        let Some(decision) = check(&book, item)? else {
            return Ok(None);
        };
        item.case_id = Some(decision.case_id.clone());
        Ok(Some(Held { book, decision }))
    }

    /// Reads `cases` again when a run has published a new version.
    async fn refresh(&self, book: &mut Book) -> Result<(), ApiError> {
        let unavailable = |e: seglake_lake::LakeError| {
            ApiError::Unavailable(format!(
                "the lake's `{CASES_TABLE}` table cannot be read: {e}"
            ))
        };
        if !seglake_lake::table_exists(&self.table)
            .await
            .map_err(unavailable)?
        {
            return Ok(());
        }
        let history = seglake_lake::history(CASES_TABLE, &self.table)
            .await
            .map_err(unavailable)?;
        let latest = history.iter().map(|e| e.version).max();
        if latest == book.version {
            return Ok(());
        }
        let batches = seglake_lake::read_table(CASES_TABLE, &self.table, latest)
            .await
            .map_err(unavailable)?;
        *book = Book {
            version: latest,
            ..Book::default()
        };
        let cases = seglake_lake::cases::decode_cases(&batches).map_err(|m| {
            ApiError::Unavailable(format!(
                "the lake's `{CASES_TABLE}` table cannot be read: {m}"
            ))
        })?;
        for case in cases {
            for alert in case.alert_ids {
                book.alert_case.insert(alert, case.case_id.clone());
            }
            book.cases.insert(case.case_id, (case.key, case.state));
        }
        Ok(())
    }
}

/// The case `item` decides and the state it moves to; `None` for an
/// `alert_id` no published case holds (an alert of another system, kept
/// as a reference, as before seglake raised alerts).
fn check(book: &Book, item: &FeedbackItem) -> Result<Option<Decision>, ApiError> {
    let case_id = match (&item.case_id, &item.alert_id) {
        (Some(case), alert) => {
            if let Some(alert) = alert
                && book.alert_case.get(alert) != Some(case)
            {
                return Err(ApiError::field(
                    "alert_id",
                    format!("alert `{alert}` is not an alert of case `{case}`"),
                ));
            }
            case.clone()
        }
        (None, Some(alert)) => match book.alert_case.get(alert) {
            Some(case) => case.clone(),
            None => return Ok(None),
        },
        (None, None) => unreachable!("checked by the caller"),
    };
    let Some((customer, published)) = book.cases.get(&case_id) else {
        return Err(ApiError::field(
            "case_id",
            format!("no published case `{case_id}`"),
        ));
    };
    if customer != &item.customer_id {
        return Err(ApiError::field(
            "customer_id",
            format!("case `{case_id}` is a case of another customer"),
        ));
    }
    let state = book.decided.get(&case_id).copied().unwrap_or(*published);
    let outcome = item.outcome.as_deref().unwrap_or_default();
    let to = state
        .after_disposition(outcome)
        .map_err(|message| ApiError::field("outcome", format!("case `{case_id}`: {message}")))?;
    Ok(Some(Decision { case_id, to }))
}
