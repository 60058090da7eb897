//! `seglake serve`: the scoring and feedback API, until Ctrl-C or SIGTERM.

use std::path::Path;

use crate::args::ServeArgs;
use crate::exit::{Exit, InvalidInput};

pub async fn serve(args: ServeArgs) -> anyhow::Result<Exit> {
    let token = api_token(args.token_file.as_deref())?;
    let lake = args.lake.path().to_path_buf();
    let wal_dir = args.wal_dir.unwrap_or_else(|| lake.join("_serve_wal"));
    let follow = match &args.follow {
        None => None,
        Some(url) => Some(seglake_serve::follow::FollowOptions {
            topic: seglake_stream::source::KafkaSource::parse(url)
                .map_err(|e| InvalidInput(format!("--follow: {e}")))?,
            source: args.follow_source.clone(),
        }),
    };
    let options = seglake_serve::ServeOptions {
        lake,
        bind: args.bind,
        token,
        run: args.run,
        wal_dir,
        reload_every: args.reload_every,
        flush_every: args.flush_every,
        shadow: args.shadow,
        follow,
    };
    let stop =
        super::shutdown_requested("stopping: finishing requests in flight, committing feedback");
    seglake_serve::serve(options, stop, |address| {
        eprintln!("seglake serve: listening on http://{address}");
    })
    .await
    .map_err(serve_error)?;
    Ok(Exit::Success)
}

/// The API token: `--token-file`, else SEGLAKE_API_TOKEN. Never printed.
fn api_token(file: Option<&Path>) -> anyhow::Result<seglake_serve::Token> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            InvalidInput(format!(
                "--token-file {}: cannot be read: {e}",
                path.display()
            ))
        })?,
        None => std::env::var("SEGLAKE_API_TOKEN").map_err(|_| {
            InvalidInput(
                "no API token: set SEGLAKE_API_TOKEN or pass --token-file FILE (every route but \
                 /healthz requires it as a bearer token)"
                    .into(),
            )
        })?,
    };
    Ok(seglake_serve::Token::new(text).map_err(InvalidInput)?)
}

/// A configuration error is the user's to fix (exit 1), and so may be the
/// lake's own errors, which say so themselves; the rest are failures.
fn serve_error(e: seglake_serve::ServeError) -> anyhow::Error {
    match e {
        seglake_serve::ServeError::Config(m) => anyhow::Error::new(InvalidInput(m)),
        seglake_serve::ServeError::Audit(a) => anyhow::Error::new(a),
        seglake_serve::ServeError::Lake(l) => anyhow::Error::new(l),
        other => anyhow::Error::new(other),
    }
}
