//! Single-threaded mode, as wsgiref's `simple_server`: one thread accepts a connection, reads
//! its request, runs the app, writes the response and closes, then accepts the next. A slow
//! request delays everyone: that is what this mode is for showing.

use super::{LISTENER, Server, WAKE, accept_failed, wait};
use crate::Log;
use crate::environ::ServerEnviron;
use crate::handler::{Handler, write_error};
use crate::http::{HttpError, Receiver, Step};
use crate::stats::WorkerState;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Waker};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

impl Server {
    pub(super) fn serve_single(&self, mut count: Option<usize>) -> io::Result<()> {
        let log = Log::new(&self.options);
        let environ = ServerEnviron::new(self.addr, false);
        let handler = Handler {
            app: self.app.as_ref(),
            environ: &environ,
            prefix: &self.prefix,
            proxy: &self.proxy,
            log: &log,
        };
        let mut poll = Poll::new()?;
        self.shutdown.set_waker(Arc::new(Waker::new(poll.registry(), WAKE)?));
        self.listener.set_nonblocking(true)?;
        poll.registry().register(&mut SourceFd(&self.listener.as_raw_fd()), LISTENER, Interest::READABLE)?;
        let mut events = Events::with_capacity(8);
        let worker = self.stats.add_workers(1).remove(0);
        while count != Some(0) && !self.shutdown.is_requested() {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.stats.connection(1);
                    self.answer_one(stream, peer, &handler, &worker);
                    self.stats.connection(-1);
                    count = count.map(|n| n - 1);
                }
                // Readiness is edge-triggered: wait only after accept said there is nothing.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(&mut poll, &mut events, None)?,
                // The shutdown handle stopped the socket listening: not a failure.
                Err(_) if self.shutdown.is_requested() => break,
                Err(e) => accept_failed(&log, e),
            }
        }
        Ok(())
    }

    /// Single-threaded mode's connection: one request, one response, close.
    fn answer_one(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        handler: &Handler<'_>,
        worker: &Mutex<WorkerState>,
    ) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.options.write_timeout));
        let mut receiver = Receiver::new(self.options.limits());
        let deadline = Instant::now() + self.options.header_timeout;
        let refusal = loop {
            match receiver.step() {
                Ok(Step::Ready(request)) => {
                    self.stats.started(worker, request.head.request_line());
                    let _ = handler.handle(request, peer, false, &mut stream);
                    self.stats.finished(worker);
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
                    let wait = if receiver.receiving_body() { self.options.header_timeout } else { left };
                    if wait.is_zero() {
                        break HttpError::new(408, "no complete request within the header timeout");
                    }
                    let _ = stream.set_read_timeout(Some(wait));
                    match receiver.read_from(&mut stream) {
                        Ok(0) => return, // the client went away
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => {
                            break HttpError::new(408, "no complete request within the header timeout");
                        }
                        Err(_) => return,
                    }
                }
                Err(error) => break error,
            }
        };
        handler.log.refused(peer.ip(), refusal.status, &refusal.detail);
        self.stats.answered();
        if write_error(&mut stream, &refusal, 1, false).is_ok() {
            linger_close(stream);
        }
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

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
