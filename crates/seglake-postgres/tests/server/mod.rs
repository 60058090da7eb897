//! A real PostgreSQL server for the tests, started with
//! `infra/postgres/server.sh` on first use and stopped (by its pid, through
//! the script) when the last test using it is done, panicked or not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use tokio_postgres::{Client, NoTls};

/// The running server.
pub struct Server {
    dir: PathBuf,
    pub port: u16,
    pub user: String,
    pub password: String,
}

struct Shared {
    users: usize,
    server: Option<Arc<Server>>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    users: 0,
    server: None,
});

/// A test's hold on the server; the last one dropped stops it.
pub struct Lease {
    server: Arc<Server>,
}

impl std::ops::Deref for Lease {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        shared.users -= 1;
        if shared.users == 0 {
            if let Some(server) = shared.server.take() {
                // No panic here: this may run while a failed test unwinds.
                let stopped = Command::new("bash")
                    .arg(script_path())
                    .arg("stop")
                    .arg(&server.dir)
                    .status();
                if !matches!(stopped, Ok(s) if s.success()) {
                    eprintln!(
                        "server.sh stop {} failed: {stopped:?}",
                        server.dir.display()
                    );
                }
                let _ = std::fs::remove_dir_all(&server.dir);
            }
        }
    }
}

/// The server, started if no test holds it.
pub fn server() -> Lease {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if shared.server.is_none() {
        shared.server = Some(Arc::new(start()));
    }
    shared.users += 1;
    Lease {
        server: shared.server.clone().expect("started above"),
    }
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/postgres/server.sh")
}

/// Runs `server.sh ACTION DIR`; on failure removes DIR (a server that did
/// not start leaves nothing to stop) and panics with the script's message.
fn script(action: &str, dir: &Path) -> String {
    let out = Command::new("bash")
        .arg(script_path())
        .arg(action)
        .arg(dir)
        .output()
        .expect("bash runs");
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(dir);
        panic!(
            "server.sh {action} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start() -> Server {
    // Under the system temp folder, which the `postgres` user the server
    // runs as (when the tests run as root) can enter.
    let dir = std::env::temp_dir().join(format!("seglake-pg-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    script("start", &dir);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .trim()
            .to_string()
    };
    Server {
        port: read("port").parse().expect("a port"),
        user: read("user"),
        password: read("password"),
        dir,
    }
}

impl Server {
    /// The URI of `database`, without a password.
    pub fn uri(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            self.user, self.port
        )
    }

    /// A connection to `database` as the server's superuser.
    pub async fn connect(&self, database: &str) -> Client {
        let config = format!("{} password={}", self.conninfo(database), self.password);
        let (client, connection) = tokio_postgres::connect(&config, NoTls)
            .await
            .expect("connects");
        tokio::spawn(connection);
        client
    }

    fn conninfo(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={} dbname={database}",
            self.port, self.user
        )
    }

    /// A new, empty database for one test (tests share the server).
    pub async fn database(&self, name: &str) -> Client {
        let admin = self.connect("postgres").await;
        // Each on its own: CREATE DATABASE refuses a multi-statement string.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&sql)
                .await
                .expect("creates the database");
        }
        self.connect(name).await
    }
}
