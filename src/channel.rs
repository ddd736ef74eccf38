//! One connection in pool mode (waitress's "channel"): what has been received on it, reading
//! it without blocking, and writing to it without holding the socket in blocking mode.

use crate::handler::Handler;
use crate::http::{HttpError, Receiver, Request, Step};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How much one connection may read per turn, so one upload does not hold up the others.
const READ_PER_TURN: usize = 1 << 20;

/// One client connection and what has been received on it.
pub(crate) struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub receiver: Receiver,
    /// When it is given up on: the header timeout while a request is awaited, the idle timeout
    /// between requests, the drain time after a refusal.
    pub deadline: Instant,
}

impl Conn {
    /// Answers `request` on this connection; returns the connection if it stays open.
    pub fn answer(self, handler: &Handler<'_>, request: Request) -> Option<Conn> {
        let mut out = NonBlockingWriter { stream: &self.stream, blocking: false };
        let written = handler.handle(request, self.peer, true, &mut out);
        let kept = matches!(written, Ok(w) if w.keep_alive);
        let restored = !out.blocking || self.stream.set_nonblocking(true).is_ok();
        (kept && restored).then_some(self)
    }
}

/// What a connection needs after its turn.
pub(crate) enum Next {
    Request(Request),
    Wait,
    Again,
    Close,
    Refuse(HttpError),
}

/// Feeds a connection's receiver from its socket until a request is complete, the socket has
/// nothing more for now, or this turn's share is read.
pub(crate) fn receive(conn: &mut Conn, header_timeout: Duration) -> Next {
    let mut read = 0;
    loop {
        match conn.receiver.step() {
            Ok(Step::Ready(request)) => return Next::Request(request),
            Ok(Step::SendContinue) => {
                if conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                    return Next::Close;
                }
            }
            Ok(Step::NeedMore) if read >= READ_PER_TURN => return Next::Again,
            Ok(Step::NeedMore) => {
                let was_idle = conn.receiver.is_idle();
                match conn.receiver.read_from(&mut conn.stream) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        read += n;
                        // A new request has its header timeout from its first byte; a body must
                        // keep coming. More bytes of a head do not extend its deadline.
                        if was_idle || conn.receiver.receiving_body() {
                            conn.deadline = Instant::now() + header_timeout;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            Err(error) => return Next::Refuse(error),
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
