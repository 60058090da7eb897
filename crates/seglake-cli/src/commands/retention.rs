//! Keeping what must be kept and no more: `seglake vacuum` (old files)
//! and `seglake erase` (one person, everywhere).

use super::{open_lake, print, print_line};
use crate::args::{EraseArgs, VacuumArgs};
use crate::exit::Exit;

pub async fn vacuum(args: VacuumArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let report = seglake_audit::vacuum(&lake, args.retain, args.dry_run).await?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render())?;
    }
    Ok(Exit::Success)
}

pub async fn erase(args: EraseArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let report = seglake_audit::erase(&lake, &args.customer, args.sources).await?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render())?;
    }
    Ok(Exit::Success)
}
