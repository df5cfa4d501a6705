//! A real HTTP server on 127.0.0.1 that records every request it gets (webhook and Slack
//! deliveries), answering with a status the test chooses, optionally after a delay.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The receiver; it stops accepting when dropped (its thread ends with the test process).
pub struct Receiver {
    pub url: String,
    requests: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    body: Arc<Mutex<String>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            requests: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
            body: Arc::new(Mutex::new("ok".into())),
        };
        let (requests, status, delay, body) = (
            receiver.requests.clone(),
            receiver.status.clone(),
            receiver.delay_ms.clone(),
            receiver.body.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (requests, status, delay, body) = (requests.clone(), status.clone(), delay.clone(), body.clone());
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &requests, &status, &delay, &body);
                });
            }
        });
        receiver
    }

    /// Answers every later request with `status` and `body`.
    pub fn answer(&self, status: u16, body: &str) {
        self.status.store(status, Ordering::SeqCst);
        *self.body.lock().unwrap() = body.into();
    }

    /// Waits this long before answering (a slow receiver keeps jobs running).
    pub fn delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `check` holds on the requests so far, for at most `seconds`.
    #[track_caller]
    pub fn wait_for(&self, seconds: u64, what: &str, check: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let requests = self.requests();
            if check(&requests) {
                return requests;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; received {} requests",
                requests.len()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn serve_connection(
    stream: std::net::TcpStream,
    requests: &Mutex<Vec<Received>>,
    status: &AtomicU16,
    delay: &AtomicU64,
    body: &Mutex<String>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut payload = vec![0; length];
        reader.read_exact(&mut payload)?;
        let wait = delay.load(Ordering::SeqCst);
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait));
        }
        requests.lock().unwrap().push(Received {
            method,
            path,
            headers,
            body: payload,
        });
        let code = status.load(Ordering::SeqCst);
        let text = body.lock().unwrap().clone();
        write!(
            writer,
            "HTTP/1.1 {code} Status\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        )?;
        writer.flush()?;
    }
}
