//! The accept loop: hyper's HTTP/1 on each accepted socket, so that a connection cannot
//! hold the server forever. A request's header must arrive within the header timeout
//! (hyper also times the wait for the next request's header on a kept-alive connection);
//! a connection with no request for the idle timeout is closed; at most
//! `max_connections` sockets are open at once (websockets included: a socket's permit
//! goes with it when it is upgraded), and past that new connections wait in the
//! listen queue until one closes. Stopping lets requests in flight finish.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::codes::Code;
use crate::ServeOptions;

/// What a request knows of its connection (a request extension).
#[derive(Clone)]
pub(crate) struct ConnectionInfo {
    pub peer: SocketAddr,
    /// Where an upgraded request leaves its websocket permit: it lives as long as the
    /// socket.
    pub websocket_permit: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
}

pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    // Every connection task holds a receiver: the loop waits for them all on stop.
    let (stop, stopped) = watch::channel(false);
    let idle_timeout = options.idle_timeout;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            http: http.clone(),
            app: app.clone(),
            peer,
            idle_timeout,
            stop: stopped.clone(),
        };
        tokio::spawn(connection.serve(stream, permit));
    }
    // No new connections; the open ones finish their requests and close.
    drop(listener);
    stop.send_replace(true);
    drop(stopped);
    stop.closed().await;
    Ok(())
}

/// As `axum::serve`: a connection refused or reset before it was accepted is nothing; any
/// other error (out of file descriptors) is worth a pause before trying again.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

struct Connection {
    http: hyper::server::conn::http1::Builder,
    app: Router,
    peer: SocketAddr,
    idle_timeout: Duration,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream, permit: OwnedSemaphorePermit) {
        let info = ConnectionInfo {
            peer: self.peer,
            websocket_permit: Arc::new(Mutex::new(None)),
        };
        let io = TokioIo::new(Socket {
            stream,
            _permit: permit,
            _websocket_permit: info.websocket_permit.clone(),
            replacing: None,
        });
        let activity = Arc::new(Activity::new());
        let service = {
            let (app, activity) = (self.app.clone(), activity.clone());
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request = crate::strip_trailing_slash(request.map(Body::new));
                request.extensions_mut().insert(info.clone());
                let busy = Busy::start(activity.clone());
                let app = app.clone();
                async move {
                    let response = app.oneshot(request).await;
                    drop(busy);
                    response
                }
            })
        };
        let connection = self.http.serve_connection(io, service).with_upgrades();
        tokio::pin!(connection);
        let mut closing = false;
        loop {
            let idle_check = tokio::time::sleep_until(activity.idle_deadline(self.idle_timeout));
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, peer = %self.peer, "connection ended");
                    }
                    break;
                }
                _ = self.stop.wait_for(|stop| *stop), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = idle_check, if !closing => {
                    if activity.idle_for() >= self.idle_timeout {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// Requests in flight on a connection, and when the last one ended.
struct Activity {
    busy: AtomicUsize,
    since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            busy: AtomicUsize::new(0),
            since: Mutex::new(Instant::now()),
        }
    }

    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        self.since.lock().expect("not poisoned").elapsed()
    }

    /// When the connection will have been idle for `timeout`, if nothing happens.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        Instant::now() + timeout.saturating_sub(self.idle_for())
    }
}

/// A request in flight, until dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::SeqCst);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.since.lock().expect("not poisoned") = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An accepted socket, with the permits it holds while open. hyper answers a request it
/// cannot parse on its own, with an empty body; that answer is rewritten here with the
/// API's JSON error body.
struct Socket {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _websocket_permit: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    /// A rewritten answer being written (bytes, how far), and the length of hyper's.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl AsyncRead for Socket {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl Socket {
    /// Writes the rest of a rewritten answer; `Ready(Ok(n))` with the length of hyper's.
    fn poll_replacing(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, original)) = &mut self.replacing {
            if *written == bytes.len() {
                let original = *original;
                self.replacing = None;
                return Poll::Ready(Ok(original));
            }
            match Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                other => return other,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            if let Some(json) = json_parse_error(buf) {
                self.replacing = Some((json, 0, buf.len()));
            }
        }
        if self.replacing.is_some() {
            return self.poll_replacing(cx);
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's own answers are a head alone, in one slice.
        if self.replacing.is_some() || (bufs.len() == 1 && json_parse_error(&bufs[0]).is_some()) {
            return self.poll_write(cx, &bufs[0]);
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// hyper's answer to a request it could not parse (`HTTP/1.1 400 Bad Request`, 414 URI
/// Too Long, 431 headers too large: a head with `connection: close` and `content-length:
/// 0` first), as the same answer with a JSON body. The application's own errors always
/// have a body, so they never match.
fn json_parse_error(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.strip_prefix("HTTP/1.1 ")?.split_once("\r\n")?;
    let (code, message) = match status_line.get(..3)? {
        "400" => (Code::BadRequest, "the request is not valid HTTP"),
        "414" => (Code::UriTooLong, "the URI is too long"),
        "431" => (Code::HeadersTooLarge, "the request's headers are too large"),
        _ => return None,
    };
    let rest = rest.strip_prefix("connection: close\r\ncontent-length: 0\r\n")?;
    if !rest.ends_with("\r\n\r\n") || rest[..rest.len() - 2].contains("\r\n\r\n") {
        return None;
    }
    let body = crate::codes::body(code, message).to_string();
    Some(
        format!(
            "HTTP/1.1 {status_line}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{rest}{body}",
            body.len()
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_hypers_own_error_answers_a_json_body() {
        let head = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 18:53:25 GMT\r\n\r\n";
        let json = String::from_utf8(json_parse_error(head).unwrap()).unwrap();
        assert_eq!(
            json,
            "HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 53\r\ndate: Mon, 07 Dec 2026 18:53:25 GMT\r\n\r\n{\"error\":\"the URI is too long\",\"code\":\"uri_too_long\"}"
        );
        // The application's answers are left alone.
        assert!(json_parse_error(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        )
        .is_none());
        assert!(json_parse_error(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
