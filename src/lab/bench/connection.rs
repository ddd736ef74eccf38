//! One connection of the bench, as its thread's event loop sees it: a non-blocking socket,
//! what the connection is doing ([`Phase`]), its [`ResponseReader`], and the times the
//! measurement needs. The loop decides what happens next; this file only knows how to open,
//! register, write and close a socket without ever blocking the thread, which is shared with
//! hundreds of other connections.

use super::response::{ReadError, Response, ResponseReader};
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::Instant;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Between requests. In an open loop: waiting for its next scheduled time.
    Idle,
    /// A non-blocking connect is under way (epoll reports the socket writable when it is done).
    Connecting,
    /// The request did not fit in the socket's buffer: the rest goes out when it is writable.
    Writing,
    /// The request is sent; the response is being read.
    Reading,
    /// A connect failed: the next try waits until then, or the connection would spin and
    /// count thousands of refusals a second.
    Backoff(Instant),
    /// Nothing more to send: the requests of count mode are all taken, or the time is up.
    Done,
}

/// One connection and its state. Everything is reused from request to request (and the
/// reader from socket to socket), so the hot path allocates nothing.
pub(super) struct Connection {
    /// Its number in the bench (0..connections), for fairness and the open loop's schedule.
    pub index: usize,
    pub socket: Option<TcpStream>,
    /// Bumped whenever the socket is closed, and carried in the socket's epoll data, so an
    /// event reported for a socket already closed is not taken for its successor's.
    pub generation: u32,
    /// What the socket is registered for in epoll, so it is changed only when it must be
    /// (each change is a system call).
    interest: EventFlags,
    pub phase: Phase,
    pub reader: ResponseReader,
    /// Bytes of the request written so far.
    pub written: usize,
    /// When the current request's first byte went out: latency runs from here.
    pub sent: Instant,
    /// Open loop: when the current request was due; latency from the schedule runs from here.
    pub due: Option<Instant>,
    /// Open loop: the number of this connection's next request.
    pub nth: u64,
    /// When the connection last finished a request (answered or failed): an open-loop send
    /// that is late although this came before its time was delayed by the generator itself.
    pub idle_since: Instant,
    /// When the connect, or the current request, times out.
    pub deadline: Instant,
}

impl Connection {
    pub fn new(index: usize, head_request: bool, now: Instant) -> Self {
        Connection {
            index,
            socket: None,
            generation: 0,
            interest: EventFlags::empty(),
            phase: Phase::Idle,
            reader: ResponseReader::new(head_request),
            written: 0,
            sent: now,
            due: None,
            nth: 0,
            idle_since: now,
            deadline: now,
        }
    }

    /// The epoll data of this connection's socket: its place in the thread's table and its
    /// generation.
    pub fn token(&self, slot: usize) -> u64 {
        (u64::from(self.generation) << 32) | slot as u64
    }

    /// Starts a non-blocking connect to `addr` and registers the socket in `epoll`. `Ok(true)`:
    /// connected already (on loopback the handshake often completes inside the call), so the
    /// request can go at once and the socket waits for readable. `Ok(false)`: under way; the
    /// socket waits for writable, which is how the end of a connect is reported, and
    /// [`Connection::connected`] then says how it ended.
    pub fn open(&mut self, addr: SocketAddr, epoll: impl AsFd, slot: usize) -> io::Result<bool> {
        self.close();
        let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let fd = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
        // The request goes out in one write, so Nagle's algorithm would only ever delay it.
        rustix::net::sockopt::set_tcp_nodelay(&fd, true)?;
        let connected = match rustix::net::connect(&fd, &addr) {
            Ok(()) => true,
            Err(rustix::io::Errno::INPROGRESS) => false,
            Err(e) => return Err(e.into()),
        };
        let interest = if connected { EventFlags::IN } else { EventFlags::OUT };
        epoll::add(epoll, &fd, EventData::new_u64(self.token(slot)), interest)?;
        self.interest = interest;
        self.socket = Some(TcpStream::from(fd));
        Ok(connected)
    }

    /// Whether the connect that epoll just reported succeeded (the socket's pending error).
    pub fn connected(&self) -> io::Result<()> {
        let socket = self.socket.as_ref().ok_or(io::ErrorKind::NotConnected)?;
        rustix::net::sockopt::socket_error(socket)?.map_err(io::Error::from)
    }

    /// Registers the socket for `interest` (readable while a response is awaited or the
    /// connection idles, writable while connecting or writing), if it is not already.
    pub fn want(&mut self, epoll: impl AsFd, slot: usize, interest: EventFlags) -> io::Result<()> {
        let Some(socket) = &self.socket else { return Ok(()) };
        if self.interest != interest {
            epoll::modify(epoll, socket, EventData::new_u64(self.token(slot)), interest)?;
            self.interest = interest;
        }
        Ok(())
    }

    /// Writes what is left of `request`, then waits for the right thing: readable once it is
    /// all out (the response), writable if the socket's buffer filled up (room for the rest).
    /// Bytes left over from an earlier read may already hold the whole response: then it is
    /// returned at once.
    pub fn write_rest(
        &mut self,
        epoll: impl AsFd,
        slot: usize,
        request: &[u8],
    ) -> Result<Option<Response>, ReadError> {
        let socket = self.socket.as_ref().ok_or(ReadError::Closed)?;
        let mut all_out = true;
        while self.written < request.len() {
            match (&*socket).write(&request[self.written..]) {
                Ok(0) => return Err(ReadError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    all_out = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        self.phase = if all_out { Phase::Reading } else { Phase::Writing };
        let interest = if all_out { EventFlags::IN } else { EventFlags::OUT };
        self.want(epoll, slot, interest).map_err(ReadError::Io)?;
        match all_out && self.reader.has_unread() {
            true => self.reader.feed(&[]),
            false => Ok(None),
        }
    }

    /// Reads what has arrived into `buffer` (the thread's) and feeds it to the reader: a whole
    /// response, `None` for "more to come", or why none will. One read per readiness event,
    /// unless the buffer filled up (then more is probably waiting): with level-triggered epoll,
    /// bytes left in the socket are reported again.
    pub fn read_response(
        &mut self,
        buffer: &mut [u8],
        received: &mut u64,
    ) -> Result<Option<Response>, ReadError> {
        let socket = self.socket.as_ref().ok_or(ReadError::Closed)?;
        loop {
            match (&*socket).read(buffer) {
                Ok(0) => return self.reader.end_of_stream().map(Some),
                Ok(n) => {
                    *received += n as u64;
                    match self.reader.feed(&buffer[..n]) {
                        Ok(None) if n == buffer.len() => {}
                        other => return other,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Closes the socket (which also takes it out of epoll) and forgets any response in
    /// progress.
    pub fn close(&mut self) {
        if self.socket.take().is_some() {
            self.generation = self.generation.wrapping_add(1);
        }
        self.interest = EventFlags::empty();
        self.reader.reset();
    }

    /// Whether a request was taken and is not finished: at the end of a timed bench, such a
    /// request is counted as in flight.
    pub fn in_flight(&self) -> bool {
        matches!(self.phase, Phase::Connecting | Phase::Writing | Phase::Reading)
    }
}
