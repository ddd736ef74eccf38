//! Single-threaded mode, as wsgiref's `simple_server`: one thread accepts a connection, reads
//! its request, runs the app, writes the response and closes, then accepts the next. A slow
//! request delays everyone: that is what this mode is for showing.

use super::serving::Serving;
use crate::handler::write_error;
use crate::http::{HttpError, RequestParser, Step};
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Accepts and answers connections one at a time until shutdown, or until `count` connections
/// were answered (`handle_request` answers one). The accept blocks: shutdown stops the socket
/// listening, which ends a blocked accept at once with an error.
pub(super) fn serve(
    serving: &Serving,
    listener: &TcpListener,
    shutdown: &ShutdownHandle,
    mut count: Option<usize>,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let worker = serving.stats.add_workers(1).remove(0);
    while count != Some(0) && !shutdown.is_requested() {
        match listener.accept() {
            Ok((stream, peer)) => {
                serving.stats.connection(1);
                answer_one(serving, stream, peer, &worker);
                serving.stats.connection(-1);
                count = count.map(|n| n - 1);
            }
            // The shutdown handle stopped the socket listening: not a failure.
            Err(_) if shutdown.is_requested() => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Out of file descriptors, say: pause rather than spin.
                serving.log.info(&format!("accept failed: {e}; pausing 100 ms"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(())
}

/// Single-threaded mode's connection: one request, one response, close.
fn answer_one(serving: &Serving, mut stream: TcpStream, peer: SocketAddr, worker: &Mutex<WorkerState>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(serving.options.write_timeout));
    let mut parser = RequestParser::new(serving.options.limits());
    let deadline = Instant::now() + serving.options.header_timeout;
    let timed_out = || HttpError::new(408, "no complete request within the header timeout");
    let refusal = loop {
        match parser.step() {
            Ok(Step::Ready(request)) => {
                serving.stats.started(worker, request.head.request_line().text());
                let _ = serving.handler().handle(request, peer, false, &mut stream);
                serving.stats.finished(worker);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Ok(Step::SendContinue) => {
                if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                    return;
                }
            }
            Ok(Step::NeedMore) => {
                // The head must be complete by the deadline; after it, the body must keep
                // coming (no silence longer than the header timeout).
                let left = deadline.saturating_duration_since(Instant::now());
                let wait = if parser.receiving_body() { serving.options.header_timeout } else { left };
                if wait.is_zero() {
                    break timed_out();
                }
                let _ = stream.set_read_timeout(Some(wait));
                match parser.read_from(&mut stream) {
                    Ok(0) => return, // the client went away
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                        break timed_out();
                    }
                    Err(_) => return,
                }
            }
            Err(error) => break error,
        }
    };
    serving.log.refused(peer.ip(), refusal.status, &refusal.detail);
    serving.stats.answered();
    if write_error(&mut stream, &refusal, 1, false).is_ok() {
        linger_close(stream);
    }
}

/// Closes a connection whose request was refused. The client may still be sending (a body we
/// will not read); closing at once would make the OS answer with a reset that can destroy our
/// error response before the client reads it. So: stop writing, drain a little, then close.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let give_up = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 16 * 1024];
    while Instant::now() < give_up {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}
