//! Delivery against an in-process receiver that misbehaves on purpose.
//!
//! The receiver speaks just enough HTTP/1.1 over raw sockets to answer 500,
//! answer too late, or close the connection without answering, at seeded
//! rates. It verifies every signature and, like a real case manager,
//! processes each idempotency key once: a key seen again after a 2xx is
//! answered 200 without being processed. The tests check that every event
//! is processed exactly once however the network and this process fail.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use seglake_deliver::{
    Delivery, DeliveryEvent, Endpoint, Outbox, RetryPolicy, Secret, Status, deliver, verify,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const SECRET: &str = "whsec-test-5f2c9a";
const ENDPOINT: &str = "case-manager";
/// The client's per-request timeout; a "slow" answer comes after twice it.
const TIMEOUT: Duration = Duration::from_millis(100);

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        timeout: TIMEOUT,
        jitter_seed: 11,
    }
}

fn events(count: usize) -> Vec<Delivery> {
    (0..count)
        .map(|i| {
            let event = if i % 3 == 0 {
                "case.changed"
            } else {
                "alert.created"
            };
            let body = json!({"alert_id": i, "customer": format!("pii-marker-{i}"), "score": 0.5});
            Delivery::new(format!("alert:{i}"), event, body)
        })
        .collect()
}

fn endpoint(receiver: &Receiver) -> Endpoint {
    let secret = Secret::from_bytes(SECRET).unwrap();
    Endpoint::new(ENDPOINT, &receiver.url(), secret).unwrap()
}

// ---------------------------------------------------------------- receiver

#[derive(Clone, Copy)]
enum Behaviour {
    /// Per request: answer 500, answer after the client gave up, or close
    /// the connection unanswered, at these rates; otherwise answer at once.
    Flaky { error: f64, slow: f64, drop: f64 },
    /// Always this status, without processing.
    Always(u16),
}

enum Fault {
    None,
    Error,
    Slow,
    Drop,
}

#[derive(Default)]
struct Tally {
    /// Requests per idempotency key, whatever became of them.
    received: HashMap<String, u32>,
    /// Times each key was processed: answered 2xx for the first time.
    processed: HashMap<String, u32>,
    /// Requests for a key already processed (answered 200, not processed).
    duplicates: usize,
    /// Requests whose signature or headers were wrong.
    problems: Vec<String>,
}

struct State {
    behaviour: Behaviour,
    secret: Vec<u8>,
    rng: Mutex<ChaCha8Rng>,
    tally: Mutex<Tally>,
}

struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(behaviour: Behaviour, seed: u64) -> Self {
        Self::with_secret(behaviour, seed, SECRET).await
    }

    async fn with_secret(behaviour: Behaviour, seed: u64, secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            behaviour,
            secret: secret.as_bytes().to_vec(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            tally: Mutex::new(Tally::default()),
        });
        let task = tokio::spawn(accept(listener, state.clone()));
        Self { addr, state, task }
    }

    fn url(&self) -> String {
        format!(
            "http://{}/hooks/case-manager?token=url-token-abc",
            self.addr
        )
    }

    fn tally<T>(&self, read: impl FnOnce(&Tally) -> T) -> T {
        read(&self.state.tally.lock().unwrap())
    }

    fn requests(&self) -> u32 {
        self.tally(|t| t.received.values().sum())
    }

    /// Every key of `deliveries` processed exactly once, and nothing else.
    fn assert_each_processed_once(&self, deliveries: &[Delivery]) {
        self.tally(|t| {
            assert!(t.problems.is_empty(), "bad requests: {:?}", t.problems);
            for d in deliveries {
                assert_eq!(t.processed.get(&d.key), Some(&1), "key {}", d.key);
            }
            assert_eq!(t.processed.len(), deliveries.len());
        });
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(serve(socket, state.clone()));
    }
}

async fn serve(mut socket: TcpStream, state: Arc<State>) {
    let read = tokio::time::timeout(Duration::from_secs(5), read_request(&mut socket)).await;
    let Ok(Some((headers, body))) = read else {
        return;
    };
    let key = headers.get("idempotency-key").cloned().unwrap_or_default();
    *state.tally.lock().unwrap().received.entry(key).or_default() += 1;
    let status = match (state.behaviour, state.draw()) {
        (Behaviour::Always(status), _) => status,
        (_, Fault::Drop) => return, // closes the socket, no answer
        (_, Fault::Error) => 500,
        (_, Fault::Slow) => {
            // Processed, but the answer comes after the client gave up: the
            // client must resend, and the resend must not be processed.
            let status = state.process(&headers, &body);
            tokio::time::sleep(TIMEOUT * 2).await;
            status
        }
        (_, Fault::None) => state.process(&headers, &body),
    };
    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = socket.write_all(reply.as_bytes()).await; // the client may be gone
    let _ = socket.shutdown().await;
}

impl State {
    fn draw(&self) -> Fault {
        let Behaviour::Flaky { error, slow, drop } = self.behaviour else {
            return Fault::None;
        };
        let x: f64 = self.rng.lock().unwrap().random();
        if x < error {
            Fault::Error
        } else if x < error + slow {
            Fault::Slow
        } else if x < error + slow + drop {
            Fault::Drop
        } else {
            Fault::None
        }
    }

    /// Checks the request as a receiver must, then processes its key once.
    fn process(&self, headers: &HashMap<String, String>, body: &[u8]) -> u16 {
        let mut tally = self.tally.lock().unwrap();
        if let Err(problem) = check(&self.secret, headers, body) {
            tally.problems.push(problem);
            return 401;
        }
        let key = &headers["idempotency-key"];
        match tally.processed.get(key) {
            Some(_) => tally.duplicates += 1,
            None => {
                tally.processed.insert(key.clone(), 1);
            }
        }
        200
    }
}

/// Signature, freshness, and headers agreeing with the body.
fn check(secret: &[u8], headers: &HashMap<String, String>, body: &[u8]) -> Result<(), String> {
    let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
    let timestamp: i64 = header("seglake-timestamp")
        .parse()
        .map_err(|_| "no timestamp")?;
    if !verify(secret, timestamp, body, &header("seglake-signature")) {
        return Err(format!("bad signature for {}", header("idempotency-key")));
    }
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err("stale timestamp".into());
    }
    let envelope: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let agrees = envelope["id"] == header("idempotency-key").as_str()
        && envelope["event"] == header("seglake-event").as_str()
        && envelope["data"].is_object()
        && header("content-type") == "application/json";
    agrees
        .then_some(())
        .ok_or_else(|| format!("headers disagree: {headers:?}"))
}

/// One HTTP/1.1 request: lower-cased headers and the body, or `None` if the
/// client went away first.
async fn read_request(socket: &mut TcpStream) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((headers, body))
}

// ------------------------------------------------------------------ tests

/// 20% errors, 20% answers too late, 20% dropped connections.
const FLAKY: Behaviour = Behaviour::Flaky {
    error: 0.2,
    slow: 0.2,
    drop: 0.2,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_receiver_processes_every_event_exactly_once() {
    let receiver = Receiver::start(FLAKY, 42).await;
    let deliveries = events(200);
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let mut retries = 0;
    let report = deliver(
        &[endpoint(&receiver)],
        &deliveries,
        &mut outbox,
        &policy(30),
        |e| {
            if matches!(e, DeliveryEvent::Retrying { .. }) {
                retries += 1;
            }
        },
    )
    .await
    .unwrap();

    let done = report.endpoint(ENDPOINT).unwrap();
    assert_eq!(
        (done.delivered, done.dead_lettered, done.already_done),
        (200, 0, 0)
    );
    receiver.assert_each_processed_once(&deliveries);
    // The faults really happened, and late answers really were resent.
    assert!(retries > 100, "only {retries} retries");
    assert!(receiver.tally(|t| t.duplicates) > 10);

    // The outbox holds every key, with attempts covering what was received.
    let outbox = Outbox::open(dir.path()).unwrap();
    receiver.tally(|t| {
        for d in &deliveries {
            let record = outbox.record(ENDPOINT, &d.key).unwrap();
            assert_eq!(record.status, Status::Delivered);
            assert!(record.attempts >= t.received[&d.key], "{record:?}");
        }
    });
    let file = std::fs::read_to_string(outbox.file_path(ENDPOINT)).unwrap();
    for secret_or_body in [SECRET, "pii-marker", "url-token-abc"] {
        assert!(
            !file.contains(secret_or_body),
            "outbox leaks {secret_or_body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_sends_nothing_already_settled() {
    let receiver = Receiver::start(FLAKY, 5).await;
    let deliveries = events(40);
    let dir = tempfile::tempdir().unwrap();
    let endpoints = [endpoint(&receiver)];
    let mut outbox = Outbox::open(dir.path()).unwrap();
    deliver(
        &endpoints,
        &deliveries[..25],
        &mut outbox,
        &policy(30),
        |_| {},
    )
    .await
    .unwrap();
    let requests = receiver.requests();

    let mut outbox = Outbox::open(dir.path()).unwrap();
    let report = deliver(&endpoints, &deliveries, &mut outbox, &policy(30), |_| {})
        .await
        .unwrap();
    let done = report.endpoint(ENDPOINT).unwrap();
    assert_eq!((done.delivered, done.already_done), (15, 25));
    receiver.tally(|t| {
        let first_keys: u32 = deliveries[..25].iter().map(|d| t.received[&d.key]).sum();
        assert_eq!(first_keys, requests, "a settled key was sent again");
    });
    receiver.assert_each_processed_once(&deliveries);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_400_dead_letters_each_event_after_one_attempt() {
    let receiver = Receiver::start(Behaviour::Always(400), 1).await;
    let deliveries = events(50);
    let dir = tempfile::tempdir().unwrap();
    let endpoints = [endpoint(&receiver)];
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let mut dead = Vec::new();
    let report = deliver(&endpoints, &deliveries, &mut outbox, &policy(8), |e| {
        if let DeliveryEvent::DeadLettered { key, attempts, .. } = e {
            dead.push((key.to_string(), *attempts));
        }
    })
    .await
    .unwrap();

    assert_eq!(report.dead_lettered(), 50);
    assert_eq!(report.endpoint(ENDPOINT).unwrap().delivered, 0);
    assert_eq!(receiver.requests(), 50, "a 400 must not be retried");
    assert!(dead.iter().all(|(_, attempts)| *attempts == 1));
    assert!(receiver.tally(|t| t.processed.is_empty()));

    let outbox = Outbox::open(dir.path()).unwrap();
    for d in &deliveries {
        let record = outbox.record(ENDPOINT, &d.key).expect("recorded");
        assert_eq!((record.status, record.attempts), (Status::DeadLetter, 1));
        assert_eq!(record.last_error.as_deref(), Some("HTTP 400 Bad Request"));
    }

    // Dead letters are settled: a rerun does not send them again.
    let mut outbox = outbox;
    let report = deliver(&endpoints, &deliveries, &mut outbox, &policy(8), |_| {})
        .await
        .unwrap();
    assert_eq!(report.endpoint(ENDPOINT).unwrap().already_done, 50);
    assert_eq!(receiver.requests(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_503_is_retried_until_attempts_run_out() {
    let receiver = Receiver::start(Behaviour::Always(503), 1).await;
    let deliveries = events(10);
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let report = deliver(
        &[endpoint(&receiver)],
        &deliveries,
        &mut outbox,
        &policy(3),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.dead_lettered(), 10);
    assert_eq!(receiver.requests(), 30);
    let record = outbox.record(ENDPOINT, "alert:9").unwrap();
    assert_eq!((record.status, record.attempts), (Status::DeadLetter, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_with_another_secret_refuses_every_signature() {
    let receiver = Receiver::with_secret(
        Behaviour::Flaky {
            error: 0.0,
            slow: 0.0,
            drop: 0.0,
        },
        1,
        "other",
    )
    .await;
    let deliveries = events(5);
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let report = deliver(
        &[endpoint(&receiver)],
        &deliveries,
        &mut outbox,
        &policy(8),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.dead_lettered(), 5);
    assert_eq!(receiver.tally(|t| t.problems.len()), 5);
    let record = outbox.record(ENDPOINT, "alert:0").unwrap();
    assert_eq!(record.last_error.as_deref(), Some("HTTP 401 Unauthorized"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_served_independently() {
    let healthy = Receiver::start(FLAKY, 3).await;
    let refusing = Receiver::start(Behaviour::Always(404), 3).await;
    let secret = || Secret::from_bytes(SECRET).unwrap();
    let endpoints = [
        Endpoint::new("healthy", &healthy.url(), secret()).unwrap(),
        Endpoint::new("refusing", &refusing.url(), secret()).unwrap(),
    ];
    let deliveries = events(30);
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let report = deliver(&endpoints, &deliveries, &mut outbox, &policy(30), |_| {})
        .await
        .unwrap();
    assert_eq!(report.endpoint("healthy").unwrap().delivered, 30);
    assert_eq!(report.endpoint("refusing").unwrap().dead_lettered, 30);
    healthy.assert_each_processed_once(&deliveries);
    assert_eq!(outbox.status("healthy", "alert:3"), Some(Status::Delivered));
    assert_eq!(
        outbox.status("refusing", "alert:3"),
        Some(Status::DeadLetter)
    );
}

/// Kills the delivering task at arbitrary points, as a crash would, then
/// resumes from the outbox on disk, until a run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_mid_way_lose_and_duplicate_nothing() {
    let receiver = Receiver::start(FLAKY, 99).await;
    let deliveries = Arc::new(events(120));
    let endpoints = Arc::new([endpoint(&receiver)]);
    let dir = tempfile::tempdir().unwrap();
    let mut kill_after = ChaCha8Rng::seed_from_u64(4);
    let (mut aborted, mut settled_before) = (0, 0);

    for round in 0.. {
        assert!(round < 40, "delivery never completed");
        let (path, batch, targets) = (
            dir.path().to_path_buf(),
            deliveries.clone(),
            endpoints.clone(),
        );
        let task = tokio::spawn(async move {
            // Reopened from disk each round, as after a restart.
            let mut outbox = Outbox::open(&path).unwrap();
            deliver(&*targets, &batch, &mut outbox, &policy(30), |_| {}).await
        });
        let last_crash = aborted >= 5;
        if !last_crash {
            tokio::time::sleep(Duration::from_millis(kill_after.random_range(150..500))).await;
            task.abort();
        }
        match task.await {
            Ok(result) => {
                let report = result.unwrap();
                assert_eq!(report.dead_lettered(), 0);
                break;
            }
            Err(error) => assert!(error.is_cancelled()),
        }
        aborted += 1;
        let settled = Outbox::open(dir.path()).unwrap().records(ENDPOINT).count();
        assert!(settled >= settled_before, "settled deliveries were lost");
        assert!(
            settled < deliveries.len(),
            "aborted after the end, not mid-way"
        );
        settled_before = settled;
    }

    assert!(aborted >= 5, "only {aborted} crashes");
    let outbox = Outbox::open(dir.path()).unwrap();
    assert_eq!(outbox.records(ENDPOINT).count(), deliveries.len());
    assert!(
        outbox
            .records(ENDPOINT)
            .all(|r| r.status == Status::Delivered)
    );
    receiver.assert_each_processed_once(&deliveries);
}
