//! What `seglake init` does, without the CLI: inspect a folder, propose a
//! job, write it.
//!
//! ```text
//! cargo run --release -p seglake-scaffold --example init -- DIR [OUT] [--key COL] [--force]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let (mut key, mut force) = (None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => key = args.next(),
            "--force" => force = true,
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let Some(source) = positional.first() else {
        eprintln!("usage: init DIR [OUT] [--key COL] [--force]");
        return ExitCode::from(2);
    };
    let out = positional
        .get(1)
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let run = || -> seglake_scaffold::Result<String> {
        let inventory = seglake_scaffold::inspect(source)?;
        let mut options = seglake_scaffold::ProposeOptions::new(&out);
        options.key = key.clone();
        let proposal = seglake_scaffold::propose(&inventory, &options)?;
        let written = seglake_scaffold::write(&proposal, &out, force)?;
        Ok(proposal.summary(&written))
    };
    match run() {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
