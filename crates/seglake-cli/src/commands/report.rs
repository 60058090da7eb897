//! `seglake report`: one run as a self-contained HTML page.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{open_lake, print_line};
use crate::args::ReportArgs;
use crate::exit::Exit;

pub async fn report(args: ReportArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let run_id = match args.run_id {
        Some(id) => id,
        None => seglake_report::latest_run_id(&lake).await?,
    };
    let out = args
        .out
        .unwrap_or_else(|| default_path(&lake.root, &run_id));
    write_report(&lake, &run_id, &out).await?;
    print_line(&out.display().to_string())?;
    Ok(Exit::Success)
}

/// `LAKE/reports/RUN_ID.html`: beside the tables it is drawn from, outside
/// any of them.
pub fn default_path(lake_root: &Path, run_id: &str) -> PathBuf {
    lake_root.join("reports").join(format!("{run_id}.html"))
}

/// Writes the report of `run_id` to `out`, through a temporary file in the
/// same folder, so a failure leaves no partial page and an earlier report
/// in place.
pub async fn write_report(
    lake: &seglake_audit::Lake,
    run_id: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let html = seglake_report::report_html(lake, run_id).await?;
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let mut temp = tempfile::NamedTempFile::new_in(&folder)
        .with_context(|| format!("creating a temporary file in {}", folder.display()))?;
    std::io::Write::write_all(&mut temp, html.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    temp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
