//! `seglake rules backtest`: the job's rules replayed over its past runs.

use anyhow::Context;
use seglake_audit::{BacktestOptions, Lake, backtest};
use seglake_spec::Location;

use super::{load_spec, print, print_line};
use crate::args::BacktestArgs;
use crate::exit::{Exit, InvalidInput};
use crate::progress::Spinner;

pub async fn backtest_command(args: BacktestArgs) -> anyhow::Result<Exit> {
    let spec = load_spec(&args.job.job, &args.job.vars)?;
    let Location::Local(root) = &spec.output_root else {
        return Err(InvalidInput(format!(
            "job `{}` publishes to {}: backtests read a lake on a local or mounted path",
            spec.name, spec.output_root
        ))
        .into());
    };
    if args.from > args.to {
        return Err(InvalidInput(format!(
            "--from {} is after --to {}",
            args.from.to_rfc3339(),
            args.to.to_rfc3339()
        ))
        .into());
    }
    let lake = Lake::open(root)?;
    let options = BacktestOptions {
        from: args.from,
        to: args.to,
        compare: args.compare,
        resamples: args.resamples,
    };
    let spinner = Spinner::new();
    let report = backtest(&lake, &spec, &options, &spinner).await;
    spinner.finish();
    let report = report.with_context(|| {
        format!(
            "backtesting the rules of job `{}` ({})",
            spec.name,
            spec.path.display()
        )
    })?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render())?;
    }
    Ok(Exit::Success)
}
