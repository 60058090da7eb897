//! `seglake init`: a first job for a folder of the bank's own Parquet
//! files (seglake-scaffold inspects the files and proposes the job file
//! and starter views; this command writes them and says what it guessed).

use seglake_scaffold::{ProposeOptions, ScaffoldError};

use super::print;
use crate::args::InitArgs;
use crate::exit::{Exit, InvalidInput};

pub async fn init(args: InitArgs) -> anyhow::Result<Exit> {
    let inventory = seglake_scaffold::inspect(&args.source).map_err(user_error)?;
    let mut options = ProposeOptions::new(&args.out);
    options.key = args.key.clone();
    let proposal = seglake_scaffold::propose(&inventory, &options).map_err(user_error)?;
    let written = seglake_scaffold::write(&proposal, &args.out, args.force).map_err(user_error)?;
    print(&proposal.summary(&written))?;
    Ok(Exit::Success)
}

/// A folder, file or key the user named is wrong (exit 1); a failed read
/// or write of the disk is not theirs to fix (exit 2).
fn user_error(e: ScaffoldError) -> anyhow::Error {
    match e {
        ScaffoldError::Io { .. } => e.into(),
        other => InvalidInput(other.to_string()).into(),
    }
}
