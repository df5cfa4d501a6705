//! A blocking websocket client for the real-time tests.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

pub struct Socket {
    ws: WebSocket<TcpStream>,
    /// Every frame received, in order.
    pub frames: Vec<Value>,
    /// How many of `frames` `wait_for` has looked at.
    cursor: usize,
    /// The server's close code, once it closed the socket.
    pub close_code: Option<u16>,
}

/// Why a connection was refused: the HTTP status.
#[derive(Debug)]
pub struct Refused(pub u16);

impl Socket {
    /// Connects to `path` (with its query) on the server at `base` (`http://host:port`).
    pub fn connect(base: &str, path: &str, headers: &[(&str, &str)]) -> Result<Socket, Refused> {
        let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
        let mut request = url.as_str().into_client_request().expect("a websocket URL");
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let host = base.trim_start_matches("http://");
        let stream = TcpStream::connect(host).expect("the server accepts connections");
        // The handshake blocks (bounded); reads after it poll.
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        match tungstenite::client::client(request, stream) {
            Ok((ws, _)) => {
                ws.get_ref().set_read_timeout(Some(Duration::from_millis(100))).unwrap();
                Ok(Socket {
                    ws,
                    frames: Vec::new(),
                    cursor: 0,
                    close_code: None,
                })
            }
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                Err(Refused(response.status().as_u16()))
            }
            Err(e) => panic!("websocket handshake with {url} failed: {e}"),
        }
    }

    /// An operator's `/api/v1/realtime` socket.
    pub fn operator(base: &str, api_key: &str, since: Option<i64>) -> Socket {
        let auth = format!("Basic {}", super::base64_encode(format!("{api_key}:").as_bytes()));
        let path = match since {
            Some(seq) => format!("/api/v1/realtime?since={seq}"),
            None => "/api/v1/realtime".to_string(),
        };
        Socket::connect(base, &path, &[("Authorization", &auth)]).expect("the realtime socket opens")
    }

    pub fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .expect("the frame is sent");
    }

    /// Reads frames for up to `wait`; false when the socket closed.
    fn pump(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    self.frames
                        .push(serde_json::from_str(text.as_str()).expect("frames are JSON"));
                    return true;
                }
                Ok(Message::Close(frame)) => {
                    self.close_code = frame.map(|f| u16::from(f.code));
                    return false;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    if Instant::now() >= deadline {
                        return true;
                    }
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return false,
                Err(e) => panic!("websocket read failed: {e}"),
            }
        }
    }

    /// The first frame not looked at yet that `matches`, waiting up to `seconds`.
    #[track_caller]
    pub fn wait_for(&mut self, seconds: u64, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            while self.cursor < self.frames.len() {
                let frame = &self.frames[self.cursor];
                self.cursor += 1;
                if matches(frame) {
                    return frame.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; frames: {:?}",
                self.frames
            );
            assert!(
                self.pump(left.min(Duration::from_millis(200))),
                "the socket closed while waiting for {what}"
            );
        }
    }

    /// Reads whatever arrives for `wait`.
    pub fn drain(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if !self.pump(Duration::from_millis(50)) {
                return;
            }
        }
    }

    /// Whether the server closes the socket within `seconds` (its code in `close_code`).
    pub fn closes_within(&mut self, seconds: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < deadline {
            if !self.pump(Duration::from_millis(50)) {
                return true;
            }
        }
        false
    }

    /// The frames of a type received so far.
    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.frames.iter().filter(|f| f["type"] == kind).cloned().collect()
    }

    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}
