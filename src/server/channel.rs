//! One connection in pool mode, waitress's "channel": it owns its socket, its request parser
//! and what it is waiting for, and knows what to do on its turn, when its wait runs out, and
//! when it must refuse a request. Its turns come from the pool ([`super::pool`]); between
//! turns it waits in epoll and holds no thread. Single-threaded mode ([`super::single`]) drives
//! the same channel from its one thread, blocked on the socket between turns: so both modes
//! keep one set of rules (the header timeout, `100 Continue`, refusing and draining).

use super::serving::Serving;
use crate::handler::write_error;
use crate::http::{HttpError, READ_CHUNK, Request, RequestParser, Step};
use crate::stats::WorkerState;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much one connection may read in one turn, so that one upload does not hold up the others.
const READ_PER_TURN: usize = 1 << 20;

/// How long a refused connection is drained before it is closed: the client may still be
/// sending a body we will not read, and closing at once would make the OS answer with a reset
/// that can destroy our error response before the client reads it.
const DRAIN_FOR: Duration = Duration::from_secs(2);

/// What a channel waits for between turns, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// A request (its head, or more of its body) within the header timeout: past it, a 408.
    Header(Instant),
    /// The next request on a kept-alive connection, within the idle timeout: past it, close.
    Idle(Instant),
    /// The client to stop sending after a refusal: past the drain time, close.
    Drain(Instant),
}

/// What a channel needs after its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Wait in epoll until the client sends more.
    Wait,
    /// It has more to do now (pipelined requests, or an upload past this turn's share): a turn
    /// at the back of the line, so that other connections get theirs first.
    Requeue,
    /// Close it.
    Close,
}

/// One client connection and what has been received on it.
pub(crate) struct Channel {
    stream: TcpStream,
    peer: SocketAddr,
    parser: RequestParser,
    until: Until,
}

impl Channel {
    /// A new connection: its first request head is due within the header timeout.
    pub fn new(stream: TcpStream, peer: SocketAddr, serving: &Serving) -> io::Result<Channel> {
        stream.set_nonblocking(true)?;
        stream.set_write_timeout(Some(serving.options.write_timeout))?;
        let _ = stream.set_nodelay(true);
        let until = Until::Header(Instant::now() + serving.options.header_timeout);
        Ok(Channel { stream, peer, parser: RequestParser::new(serving.options.limits()), until })
    }

    /// The socket, for registering it with epoll.
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    /// When its wait runs out.
    pub fn deadline(&self) -> Instant {
        match self.until {
            Until::Header(t) | Until::Idle(t) | Until::Drain(t) => t,
        }
    }

    /// Its turn: read what has arrived and answer the request it completes. `cell` is the
    /// worker's line in the live view.
    pub fn handle_read(&mut self, serving: &Serving, cell: &Mutex<WorkerState>) -> After {
        if let Until::Drain(_) = self.until {
            return self.drain();
        }
        let mut read = 0;
        // Whether bytes may be left in the socket. Epoll, edge-triggered, reports bytes once:
        // the event that began this turn may be for bytes not read yet (a turn that answers a
        // request already buffered reads nothing), so the channel may wait for the next event
        // only once a read has emptied the socket.
        let mut unread = true;
        loop {
            match self.parser.step() {
                Ok(Step::Ready(request)) => {
                    return match self.answer(serving, cell, request) {
                        After::Wait if unread => After::Requeue,
                        after => after,
                    };
                }
                Ok(Step::SendContinue) => {
                    if self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                        return After::Close;
                    }
                }
                Ok(Step::NeedMore) if read >= READ_PER_TURN => return After::Requeue,
                Ok(Step::NeedMore) => {
                    let was_idle = self.parser.is_idle();
                    match self.parser.read_from(&mut self.stream) {
                        Ok(0) => return After::Close, // the client went away
                        Ok(n) => {
                            read += n;
                            // A read that did not fill its chunk emptied the socket.
                            unread = n == READ_CHUNK;
                            // A request's header timeout counts from its first byte, and more
                            // bytes of the head do not extend it; a body must keep coming.
                            if was_idle || self.parser.receiving_body() {
                                self.until = Until::Header(Instant::now() + serving.options.header_timeout);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return After::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return After::Close,
                    }
                }
                Err(error) => return self.refuse(serving, error),
            }
        }
    }

    /// Runs the app for one complete request and writes the response.
    fn answer(&mut self, serving: &Serving, cell: &Mutex<WorkerState>, request: Request) -> After {
        serving.stats.started(cell, request.head.request_line().text());
        let mut out = NonBlockingWriter { stream: &self.stream, blocking: false };
        let written = serving.handler().handle(request, self.peer, serving.keep_alive, &mut out);
        let restored = !out.blocking || self.stream.set_nonblocking(true).is_ok();
        serving.stats.finished(cell);
        match written {
            Ok(w) if w.keep_alive && restored => {
                self.until = Until::Idle(Instant::now() + serving.options.idle_timeout);
                // Bytes after the request (pipelining) are answered on a later turn, in line.
                if self.parser.is_idle() { After::Wait } else { After::Requeue }
            }
            _ => After::Close,
        }
    }

    /// Answers a request the parser refused with its error status, then drains the connection
    /// until the client closes or the drain time is over.
    fn refuse(&mut self, serving: &Serving, error: HttpError) -> After {
        serving.log.refused(self.peer.ip(), error.status, &error.detail);
        // A short error fits the socket buffer, so this non-blocking write goes through whole.
        let mut response = Vec::new();
        let _ = write_error(&mut response, &error, 1, false);
        let _ = self.stream.write_all(&response);
        let _ = self.stream.shutdown(Shutdown::Write);
        serving.stats.answered();
        self.until = Until::Drain(Instant::now() + DRAIN_FOR);
        // Drained on a turn of its own: bytes already in the socket raise no new event.
        After::Requeue
    }

    /// Reads and discards what a refused client still sends, until it closes.
    fn drain(&mut self) -> After {
        let mut sink = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut sink) {
                Ok(n) if n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return After::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return After::Close,
            }
        }
    }

    /// Its wait ran out: a half-received request gets a 408 (and is drained); an idle or
    /// drained connection, or one that never sent a byte, is closed.
    pub fn expire(&mut self, serving: &Serving) -> After {
        match self.until {
            Until::Header(_) if !self.parser.is_idle() => {
                self.refuse(serving, HttpError::new(408, "no complete request within the header timeout"))
            }
            _ => After::Close,
        }
    }
}

/// Writes to a non-blocking socket; if the client reads slower than we write and the socket
/// buffer fills, switches to blocking writes (bounded by the write timeout). Most responses
/// fit the buffer, so most requests cost no mode switch.
struct NonBlockingWriter<'a> {
    stream: &'a TcpStream,
    /// Whether it had to switch the socket to blocking (the caller switches it back).
    blocking: bool,
}

impl Write for NonBlockingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match (&*self.stream).write(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.blocking => {
                self.stream.set_nonblocking(false)?;
                self.blocking = true;
                (&*self.stream).write(buf)
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
