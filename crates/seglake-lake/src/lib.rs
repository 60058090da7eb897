//! The lake: where seglake reads its inputs and publishes its tables.
//!
//! - [`resolve_input`] pins a source at run start: a Delta table at a version,
//!   or a Parquet/CSV folder as the exact list of files (path, size,
//!   modification time, ETag) that the run will read, so files landing
//!   mid-run are not half-read and lineage says precisely what went in.
//! - [`storage`] opens object stores (local folders, `s3://`) the standard
//!   way, credentials from the environment only.
//! - [`stage`] writes a table's next version as data files no reader sees;
//!   [`commit`] makes them a Delta version in one commit carrying an
//!   application transaction id (a run's id), retried under contention and
//!   found again rather than repeated after a crash or a lost reply.
//!   [`publish`] is the two in one, for writes that are not part of a run.
//! - [`history`] lists a table's versions from its Delta log, with the run id
//!   of each; [`read_table`] reads a version back.
//! - [`append_once`] appends with a Delta application transaction, so a
//!   writer replaying a batch after a crash never adds it twice.
//! - [`copy_folder_in`], [`read_file`], [`write_file`] and
//!   [`remove_folder`] handle plain folders of files in the lake
//!   (PostgreSQL sources' snapshots).
//! - [`feedback`] is the table `serve` appends survey responses and analyst
//!   dispositions to.
//! - [`cases`] holds the columns of `alerts` and `cases` and the states a
//!   case moves through.
//! - [`runs`] is the lineage table: one row per run, from
//!   [`seglake_spec::lineage::RunRecord`]; [`monitoring`] the KPI history
//!   of a job's runs; [`rows`] decodes the lake's own tables back into
//!   their types.

pub mod cases;
mod error;
pub mod feedback;
mod folders;
mod history;
mod inputs;
mod metadata;
pub mod monitoring;
mod publish;
pub mod rows;
pub mod runs;
pub mod screening_hits;
pub mod storage;
mod table;

pub use error::{LakeError, Result};
pub use folders::{copy_folder_in, read_file, remove_folder, write_file};
pub use history::{HistoryEntry, current_version_of, history, version_at};
pub use inputs::{PinnedInput, delta_data_files, pin_recorded, resolve_input};
pub use metadata::{META_ERASURE_ID, META_JOB, META_REPLACES_VERSION, META_RUN_ID, META_VERSION};
pub use publish::{
    AppTransaction, COMMIT_ATTEMPTS_ENV, CommitInfo, CommitRetry, Committed, StagedTable,
    WriteMode, append_once, commit, publish, read_table, stage, transaction_version,
    transaction_version_at,
};
pub use table::{table_exists, table_location};
