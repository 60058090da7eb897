//! A minimal HTTP/1.1 client (keep-alive, Content-Length bodies) and a
//! `seglake serve` process for the tests and the load benchmark: enough to talk to the service
//! without another HTTP stack in the test build.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-0123456789abcdef";

pub struct Response {
    pub status: u16,
    /// (name in lower case, value) in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One keep-alive connection.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Connection {
            reader: BufReader::new(stream),
        })
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> std::io::Result<Response> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(t) = token {
            request += &format!("Authorization: Bearer {t}\r\n");
        }
        let body = body.unwrap_or("");
        if method == "POST" {
            request += &format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        request += "\r\n";
        request += body;
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line `{line}`")))?;
        let mut length = 0usize;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
        })
    }
}

/// One request on a fresh connection.
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Response {
    Connection::open(addr)
        .and_then(|mut c| c.send(method, path, token, body))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

pub fn post(addr: SocketAddr, path: &str, body: &serde_json::Value) -> Response {
    call(addr, "POST", path, Some(TOKEN), Some(&body.to_string()))
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    call(addr, "GET", path, Some(TOKEN), None)
}

/// A running `seglake serve`; SIGKILLed when dropped.
pub struct Serve {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Serve {
    /// Starts serve on a free loopback port, logging at debug, and waits
    /// until it listens.
    pub fn start(lake: &Path, wal: &Path, extra: &[&str]) -> Serve {
        Serve::start_logging(lake, wal, extra, "debug")
    }

    pub fn start_logging(lake: &Path, wal: &Path, extra: &[&str], rust_log: &str) -> Serve {
        let log = wal.with_extension(format!("log-{}", std::process::id()));
        let log = unique(log);
        let mut args = vec![
            "serve".to_string(),
            "--lake".into(),
            lake.display().to_string(),
            "--bind".into(),
            "127.0.0.1:0".into(),
            "--wal-dir".into(),
            wal.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_seglake"))
            .args(&args)
            .env("SEGLAKE_API_TOKEN", TOKEN)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut serve = Serve {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = std::fs::read_to_string(&serve.log).unwrap_or_default();
            if let Some(rest) = text.split("listening on http://").nth(1) {
                serve.addr = rest.lines().next().unwrap().trim().parse().unwrap();
                return serve;
            }
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("seglake serve exited ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "serve did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit code once it stopped.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = path.with_extension(format!("{n}.log"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill9();
    }
}
