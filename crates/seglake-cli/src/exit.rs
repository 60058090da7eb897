//! The codes `seglake` exits with, and which errors lead to which.
//!
//! Schedulers and scripts branch on these numbers, and `--help` and the
//! README document them: they are defined here and nowhere else.

use std::process::ExitCode;

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what it was asked (`serve`: it stopped cleanly;
    /// also `--help` and `--version`).
    Success = 0,
    /// 1: invalid input, the user's to fix: the job spec, a SQL file, the
    /// data or an argument the command checks is wrong. The message names
    /// it, and nothing was written.
    InvalidInput = 1,
    /// 2: any other failure (storage, I/O, an internal error), and the
    /// usage errors clap reports (an unknown flag, a malformed value).
    Failure = 2,
    /// 3: `reproduce` only: the run did not reproduce bit for bit.
    NotReproduced = 3,
    /// 4: `deliver` only: this run dead-lettered some events.
    DeadLettered = 4,
    /// 5: `run` and `backfill`: everything was published, but the run went
    /// past a `[monitoring]` limit, so its models are the challenger, not
    /// the champion, until `seglake promote`.
    Challenger = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// An error that is the user's to fix (exit code 1), for the checks the
/// binary makes itself; the libraries' errors say so on their own (see
/// [`Exit::for_error`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl Exit {
    /// The code for an error a command returned: invalid input when any
    /// error in its chain is the user's to fix, a failure otherwise.
    pub fn for_error(err: &anyhow::Error) -> Exit {
        if err.chain().any(is_invalid_input) {
            Exit::InvalidInput
        } else {
            Exit::Failure
        }
    }

    /// The code for what clap printed instead of parsing the command line.
    /// A value parser that returns [`InvalidInput`] makes it invalid
    /// input: `--engine` is parsed so, and a bad engine has always exited
    /// with 1 (it was `run` that checked it, before clap did).
    pub fn for_usage(err: &clap::Error) -> Exit {
        let rejected_as_input = std::error::Error::source(err)
            .is_some_and(|source| source.downcast_ref::<InvalidInput>().is_some());
        if !err.use_stderr() {
            Exit::Success
        } else if rejected_as_input {
            Exit::InvalidInput
        } else {
            Exit::Failure
        }
    }
}

/// Whether one error of a chain is the user's to fix.
fn is_invalid_input(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<InvalidInput>().is_some()
        || e.downcast_ref::<seglake_jobs::JobError>()
            .is_some_and(|j| j.is_invalid_input())
        || e.downcast_ref::<seglake_spec::SpecError>().is_some()
        || e.downcast_ref::<seglake_stream::StreamError>()
            .is_some_and(|s| s.is_invalid_input())
        || e.downcast_ref::<seglake_lake::LakeError>()
            .is_some_and(|l| l.is_invalid_input())
        || e.downcast_ref::<seglake_audit::AuditError>()
            .is_some_and(|a| a.is_invalid_input())
        || e.downcast_ref::<seglake_report::ReportError>()
            .is_some_and(|r| r.is_invalid_input())
        || matches!(
            e.downcast_ref::<seglake_datagen::GenerateError>(),
            Some(
                seglake_datagen::GenerateError::NoCustomers
                    | seglake_datagen::GenerateError::Exists { .. }
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn invalid_input_anywhere_in_the_chain_exits_with_1() {
        let err = anyhow::Error::new(InvalidInput("bad".into())).context("running the job");
        assert_eq!(Exit::for_error(&err), Exit::InvalidInput);
        let err = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing")
            .unwrap_err();
        assert_eq!(Exit::for_error(&err), Exit::Failure);
    }
}
