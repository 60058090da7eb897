//! `seglake deliver`: the lake's alerts and case changes to case-manager
//! webhooks, from a durable outbox.

use std::collections::BTreeMap;

use anyhow::Context;
use seglake_deliver::{DeliveryEvent, Endpoint, Outbox, RetryPolicy, Secret};

use seglake_audit::Lake;
use seglake_spec::privacy::KeySource;
use seglake_spec::{JobSpec, Location};

use super::{load_spec, open_lake, print, print_line};
use crate::args::DeliverArgs;
use crate::exit::{Exit, InvalidInput};

pub async fn deliver(args: DeliverArgs) -> anyhow::Result<Exit> {
    let (lake, endpoints) = match &args.job {
        Some(job) => {
            let spec = load_spec(job, &args.vars)?;
            let mut endpoints = job_endpoints(&spec)?;
            endpoints.extend(flag_endpoints(&args)?);
            (job_lake(&spec)?, endpoints)
        }
        None => (open_lake(&args.lake)?, flag_endpoints(&args)?),
    };
    if endpoints.is_empty() {
        return Err(InvalidInput(
            "no webhook: give --webhook NAME=URL, or --job with [[rules.webhook]] entries".into(),
        )
        .into());
    }
    let root = seglake_spec::Location::Local(lake.root.clone());
    let events = seglake_jobs::rules::lake_events(&root)
        .await
        .context("reading the lake's alerts and cases")?;
    let outbox_dir = args
        .outbox
        .clone()
        .unwrap_or_else(|| lake.root.join("_deliveries"));
    let mut outbox = Outbox::open(&outbox_dir)?;
    let policy = RetryPolicy {
        max_attempts: args.max_attempts,
        base_delay: args.backoff,
        timeout: args.timeout,
        ..RetryPolicy::default()
    };
    let report =
        seglake_deliver::deliver(&endpoints, &events, &mut outbox, &policy, log_event).await?;
    let mut counts = BTreeMap::new();
    for e in &report.endpoints {
        counts.insert(
            e.endpoint.clone(),
            serde_json::json!({
                "delivered": e.delivered,
                "dead_lettered": e.dead_lettered,
                "already_delivered": e.already_done,
            }),
        );
    }
    if args.output.json {
        print_line(&serde_json::json!({"events": events.len(), "endpoints": counts}).to_string())?;
    } else {
        let mut text = format!("{} events in the lake\n", events.len());
        for e in &report.endpoints {
            text += &format!(
                "  {:<20} {:>7} delivered now {:>7} before {:>5} dead-lettered\n",
                e.endpoint, e.delivered, e.already_done, e.dead_lettered
            );
        }
        text += &format!("outbox {}\n", outbox_dir.display());
        print(&text)?;
    }
    Ok(if report.dead_lettered() > 0 {
        Exit::DeadLettered
    } else {
        Exit::Success
    })
}

/// Retries and dead letters go to the log as they happen (never the
/// secret or the body).
fn log_event(event: &DeliveryEvent<'_>) {
    match event {
        DeliveryEvent::Retrying { .. } => tracing::debug!(?event, "retrying"),
        DeliveryEvent::DeadLettered { .. } => tracing::warn!(?event, "dead-lettered"),
        _ => tracing::trace!(?event, "delivery"),
    }
}

/// The webhooks given with `--webhook`, signed with the secret of
/// `--secret-file` or `--secret-env`.
fn flag_endpoints(args: &DeliverArgs) -> anyhow::Result<Vec<Endpoint>> {
    if args.webhooks.is_empty() {
        return Ok(Vec::new());
    }
    let secret = match &args.secret_file {
        Some(file) => Secret::from_file(file),
        None => Secret::from_env(&args.secret_env),
    }
    .map_err(|e| InvalidInput(e.to_string()))?;
    args.webhooks
        .iter()
        .map(|(name, url)| Endpoint::new(name.clone(), url, secret.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InvalidInput(e.to_string()).into())
}

/// The job's `[[rules.webhook]]` entries, each with its secret read: a URL
/// that is not http(s) or a secret that is missing is invalid input naming
/// the webhook (never its URL or the secret).
pub(crate) fn job_endpoints(spec: &JobSpec) -> anyhow::Result<Vec<Endpoint>> {
    let Some(rules) = &spec.rules else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for webhook in &rules.webhooks {
        let secret = match &webhook.secret {
            KeySource::Env(var) => Secret::from_env(var),
            KeySource::File(file) => Secret::from_file(file),
        };
        let endpoint = secret.and_then(|s| Endpoint::new(webhook.name.clone(), &webhook.url, s));
        out.push(endpoint.map_err(|e| {
            InvalidInput(format!(
                "job `{}` webhook `{}`: {e}",
                spec.name, webhook.name
            ))
        })?);
    }
    Ok(out)
}

/// The lake the job publishes to (a local or mounted path).
fn job_lake(spec: &JobSpec) -> anyhow::Result<Lake> {
    match &spec.output_root {
        Location::Local(root) => Ok(Lake::open(root)?),
        other => Err(InvalidInput(format!(
            "job `{}` publishes to {other}: `deliver` reads a lake on a local or mounted path",
            spec.name
        ))
        .into()),
    }
}
