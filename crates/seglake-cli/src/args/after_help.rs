//! The text `--help` prints after the flags: exit codes (the numbers are
//! [`crate::exit::Exit`]'s), logging, and what a command's flags cannot say.

pub const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  invalid input: the job spec, a SQL file or the data is wrong (the message names it);
     nothing was written
  2  any other failure (storage, I/O, internal error)
  3  `reproduce` only: the run did not reproduce bit for bit
  4  `deliver` only: some events were dead-lettered
  5  `run`, `backfill` only: published, but past a [monitoring] limit: the models are the
     challenger until `seglake promote`

Logging: set RUST_LOG (e.g. RUST_LOG=info, RUST_LOG=seglake_jobs=debug); logs go to stderr.";

/// `run --help`: where S3 settings come from (never the job file), how a
/// run publishes, and its exit codes. The S3 and cluster lines are there
/// only when the binary has those features.
pub fn run_after_help() -> String {
    let mut text = String::new();
    if cfg!(feature = "s3") {
        text.push_str(RUN_S3);
        if cfg!(feature = "cluster") {
            text.push_str(RUN_S3_ON_A_CLUSTER);
        }
        text.push_str(RUN_NO_CREDENTIALS);
    } else {
        text.push_str(RUN_WITHOUT_S3);
    }
    text.push_str(RUN_PUBLISHING);
    text
}

const RUN_S3: &str = "\
S3 (sources and output root at s3://BUCKET/PREFIX), configured from the environment only:
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or AWS_PROFILE; AWS_REGION
  AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true   an S3-compatible store (MinIO, Ceph, ...)
  SEGLAKE_S3_MAX_RETRIES      retries of a failed request (5xx, reset, timeout); default 10
  SEGLAKE_S3_RETRY_TIMEOUT    stop retrying a request after this long, e.g. 3m; default 3m
  SEGLAKE_S3_INIT_BACKOFF     first wait between retries, e.g. 100ms; default 100ms
  SEGLAKE_S3_MAX_BACKOFF      longest wait between retries, e.g. 15s; default 15s
  SEGLAKE_S3_TIMEOUT          time limit of one request, e.g. 30s; default 30s
  SEGLAKE_COMMIT_ATTEMPTS     commit attempts per table when other writers commit first; default 30
";

const RUN_S3_ON_A_CLUSTER: &str = "\
On a cluster (--engine ballista://HOST:PORT), every executor reads S3 with the settings of its
own environment; no credential is sent with a job.
";

const RUN_NO_CREDENTIALS: &str = "\
Credentials in a job file or a URI are refused; secrets are masked in every log line.
";

const RUN_WITHOUT_S3: &str = "\
S3: this seglake was built without the `s3` feature; s3:// locations are refused.
  SEGLAKE_COMMIT_ATTEMPTS     commit attempts per table when other writers commit first; default 30
Secrets are masked in every log line.
";

// Starts with the blank line before it (a `\` would swallow it).
const RUN_PUBLISHING: &str = "
Publishing: every table's data files first, then one commit per table carrying the run id as
its Delta transaction id, then the `runs` row. Re-running a run id after a crash or failure
(--run-id) completes the commits that are missing and repeats none.

Exit codes:
  0  success
  1  invalid input: the job spec, a SQL file or the data is wrong (the message names it);
     nothing was written
  2  any other failure (storage, I/O, internal error); a failure while publishing is recorded
     in `runs` as `failed`
  5  published, but past a [monitoring] limit: the models are the challenger, not the
     champion, until `seglake promote RUN_ID`

Logging: set RUST_LOG (e.g. RUST_LOG=info, RUST_LOG=seglake_jobs=debug); logs go to stderr.";

/// `serve --help`: the routes, and when feedback is safe.
pub const SERVE_AFTER_HELP: &str = "\
Routes (all but /healthz need `Authorization: Bearer <token>`):
  POST /v1/score                   {\"customer_id\": ..., \"features\": {name: number | null}}, or
                                   {\"customer_id\": ..., \"raw\": {source: [rows]}, \"as_of\": ...}
                                   (the run's feature SQL over the customer's raw rows)
  POST /v1/score/batch             {\"customers\": [{\"customer_id\": ..., \"features\": {...}}, ...]}
  GET  /v1/customers/{id}/segment  ?as_of=2026-01-01 (the published assignment in force then)
  POST /v1/feedback                a survey response or an analyst disposition
  POST /v1/feedback/webhook        a survey platform's response webhook
  GET  /healthz  /metrics  /openapi.json

Feedback is acknowledged (202) only once it is fsynced to the write-ahead log
in --wal-dir; it is committed to <lake>/feedback every --flush-every, and a log
left by a killed process is committed when the service starts again.

Exit codes: 0 stopped cleanly; 1 invalid input (no token, no published run);
2 any other failure.";

/// `deliver --help`: what a receiver gets and how it checks it.
pub const DELIVER_AFTER_HELP: &str = "\
Each POST carries the JSON body {\"id\": KEY, \"event\": EVENT, \"data\": ...} and the headers
  Idempotency-Key      alert:<alert_id> or case:<case_id>:<n> (the case's n-th change); the same
                       on every attempt, so a receiver processes each key once
  Seglake-Event        alert.created | case.changed
  Seglake-Timestamp    Unix seconds
  Seglake-Signature    v1=<hex HMAC-SHA256(secret, \"<timestamp>.<body>\")>
A 2xx is delivered; timeouts, dropped connections, 408, 429 and 5xx are retried; any other
status dead-letters the event at once. The secret is never logged or written anywhere.

Exit codes:
  0  every event delivered (or delivered before)
  1  invalid input: no webhook, a webhook that is not NAME=http(s)://..., a missing secret,
     a bad --job
  2  any other failure (storage, I/O, internal error)
  4  this run dead-lettered some events (kept in the outbox; later runs do not retry them)

Logging: set RUST_LOG (e.g. RUST_LOG=info, RUST_LOG=seglake_jobs=debug); logs go to stderr.";

/// `seglake init`: the walkthrough from a folder of files to a first run.
pub const INIT_AFTER_HELP: &str = "\
Example:
  seglake init --source data/bank --out jobs   # writes jobs/bank.toml and jobs/sql/bank/*.sql
  seglake validate jobs/bank.toml              # says what to fix; writes nothing
  seglake run jobs/bank.toml --var lake=$PWD/lake   # the first published segmentation
  (relative paths in a job, --var values included, resolve against the job file's folder)

Exit codes: 0 written, 1 the folder, a file or --key is wrong (nothing written), 2 other failure.";

/// `ingest --help` and `produce --help`: the connection's environment and
/// what ingestion writes.
pub const INGEST_AFTER_HELP: &str = "\
Connecting to a secured cluster (from the environment; never logged):
  SEGLAKE_KAFKA_SECURITY_PROTOCOL   plaintext (default) | ssl | sasl_plaintext | sasl_ssl
  SEGLAKE_KAFKA_SSL_CA_FILE         PEM file of the CAs to trust (default: the system's)
  SEGLAKE_KAFKA_SASL_MECHANISM      PLAIN (default) | SCRAM-SHA-256 | SCRAM-SHA-512
  SEGLAKE_KAFKA_SASL_USERNAME       the SASL user
  SEGLAKE_KAFKA_SASL_PASSWORD       its password, or SEGLAKE_KAFKA_SASL_PASSWORD_FILE (a file)

Each commit to the table carries, per partition, the last offset it holds (a Delta
application transaction `seglake-ingest/TOPIC/PARTITION`); a restart reads from the next one.
The dead-letter table has: topic, partition, offset, message_timestamp, key, payload
(the bytes as sent), error, ingested_at.

Exit codes: 0 stopped cleanly (Ctrl-C, SIGTERM, or --exit-at-end); 1 invalid input (a bad
URL, unknown topic, a column JSON cannot carry, a --schema-like that disagrees with the
table); 2 any other failure (an unreachable broker after --connect-timeout, storage).";
