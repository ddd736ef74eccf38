//! Pool mode's event loop (waitress's job, without its limits): one thread accepts
//! connections and parks the idle ones in epoll. When a parked connection becomes readable, it
//! goes to the back of the [`ThreadPool`]'s queue; a worker reads what is there without
//! blocking, and runs the app only once a request is complete. A half-received request goes
//! back to the table, so an idle keep-alive connection, or a client sending half a request very
//! slowly, holds no worker; the threads are the workers plus this one.
//!
//! Every connection has a slot in one table shared by the poller and the workers. It is always
//! in exactly one place: parked in the table (waiting for bytes), taken (queued, or with a
//! worker), or draining after a refusal. A worker parks the connection itself when it is done,
//! so the poller is woken only by the network. A connection has at most one turn queued or
//! running at a time, and turns are served first come, first served: that is what makes the pool
//! fair to every connection.

mod table;

use crate::channel::{Conn, Next, receive};
use crate::environ::ServerEnviron;
use crate::handler::{Handler, write_error};
use crate::http::{HttpError, Receiver};
use crate::pool::{JobQueue, ThreadPool};
use crate::server::{LISTENER, Server, WAKE, accept_failed, wait};
use crate::stats::Stats;
use crate::{App, Log, Options, UrlPrefix};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use table::{Slot, Table};

/// A turn for a worker: a connection with something to read, and its slot.
struct Turn {
    token: usize,
    conn: Conn,
}

/// What the poller and the workers share.
struct Shared {
    app: Arc<dyn App>,
    environ: ServerEnviron,
    prefix: UrlPrefix,
    proxy: crate::proxy::ProxyPolicy,
    log: Log,
    options: Options,
    stats: Arc<Stats>,
    table: Mutex<Table>,
    /// Wakes the poller: only needed when a closed connection lets it accept again.
    waker: Arc<Waker>,
    /// Each worker's state cell in [`Stats`].
    cells: Vec<Arc<Mutex<crate::stats::WorkerState>>>,
}

impl Shared {
    fn handler(&self) -> Handler<'_> {
        let (app, environ, prefix, proxy, log) =
            (self.app.as_ref(), &self.environ, &self.prefix, &self.proxy, &self.log);
        Handler { app, environ, prefix, proxy, log }
    }
}

/// How long a refused connection is drained before it is closed (see `server::linger_close`).
const DRAIN_FOR: Duration = Duration::from_secs(2);

/// Serves `server` in pool mode until shutdown.
pub(crate) fn serve(server: &Server) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
    server.shutdown_handle().set_waker(waker.clone());
    let options = server.options().clone();
    let table = Table::new();
    let shared = Arc::new(Shared {
        app: server.app(),
        environ: ServerEnviron::new(server.server_address(), true),
        prefix: UrlPrefix::new(&options.url_prefix),
        proxy: server.proxy().clone(),
        log: Log::new(&options),
        stats: server.stats(),
        table: Mutex::new(table),
        waker,
        cells: server.stats().add_workers(options.threads),
        options,
    });
    let for_workers = shared.clone();
    let pool =
        ThreadPool::new(shared.options.threads, shared.stats.clone(), move |worker, turn: Turn, queue| {
            take_turn(&for_workers, queue, worker, turn);
        });
    let mut poller = Poller {
        listener: server.listener(),
        registry: poll.registry().try_clone()?,
        accepting: false,
        shared,
        queue: pool.queue(),
        shutdown: server.shutdown_handle(),
    };
    poller.listener.set_nonblocking(true)?;
    poller.set_accepting(true)?;
    let mut events = Events::with_capacity(1024);
    while !poller.shutdown.is_requested() {
        let timeout = {
            let mut table = poller.table();
            table.poller_wakes_at = table.next_sweep;
            table.next_sweep.map(|t| t.saturating_duration_since(Instant::now()))
        };
        wait(&mut poll, &mut events, timeout)?;
        if events.iter().any(|e| e.token() == LISTENER || e.token() == WAKE) {
            poller.accept_all()?;
        }
        let turns = poller.take_ready(events.iter().map(|e| e.token().0));
        poller.queue.execute_all(turns);
        poller.sweep();
    }
    poller.shut_down(pool, &mut poll, &mut events)
}

/// A worker's turn on a readable connection: read what is there, and if a request is complete,
/// answer it.
fn take_turn(shared: &Shared, queue: &JobQueue<Turn>, worker: usize, turn: Turn) {
    let Turn { token, mut conn } = turn;
    match receive(&mut conn, shared.options.header_timeout) {
        Next::Request(request) => {
            let cell = &shared.cells[worker];
            shared.stats.started(cell, request.head.request_line());
            let kept = conn.answer(&shared.handler(), request).map(|mut conn| {
                conn.deadline = Instant::now() + shared.options.idle_timeout;
                conn
            });
            shared.stats.finished(cell);
            match kept {
                // Bytes after the request (pipelining) are answered on a later turn, in line.
                Some(conn) => park(shared, queue, token, conn, true),
                None => close(shared, token, None),
            }
        }
        Next::Wait => park(shared, queue, token, conn, false),
        // A large upload: the rest on a later turn, so other connections get theirs.
        Next::Again => queue.execute(Turn { token, conn }),
        Next::Close => close(shared, token, Some(conn)),
        Next::Refuse(error) => refuse(shared, token, conn, error),
    }
}

/// Puts a connection back in the table, or back in the queue if there is more to read:
/// buffered bytes after an answer, or bytes that arrived while it was taken (epoll reported
/// them to the poller, which marked the slot `pending`, and will not report them again).
fn park(shared: &Shared, queue: &JobQueue<Turn>, token: usize, conn: Conn, after_answer: bool) {
    let mut table = lock(&shared.table);
    if table.closing {
        drop(table);
        return close(shared, token, Some(conn));
    }
    let pending = matches!(table.slots[token], Slot::Taken { pending: true });
    if pending || (after_answer && !conn.receiver.is_idle()) {
        table.slots[token] = Slot::Taken { pending: false };
        drop(table);
        return queue.execute(Turn { token, conn });
    }
    let wake = table.remind(conn.deadline);
    table.slots[token] = Slot::Parked(conn);
    drop(table);
    if wake {
        let _ = shared.waker.wake();
    }
}

/// Frees a slot. `conn` is closed by dropping it: closing a socket also removes it from epoll.
fn close(shared: &Shared, token: usize, conn: Option<Conn>) {
    drop(conn);
    let mut table = lock(&shared.table);
    table.free(token);
    shared.stats.connection(-1);
    if table.open + 1 == shared.options.connection_limit {
        let _ = shared.waker.wake(); // the poller may accept again
    }
}

/// Answers a bad request with its error status, then drains the connection until the client
/// closes or the drain time is over.
fn refuse(shared: &Shared, token: usize, mut conn: Conn, error: HttpError) {
    shared.log.refused(conn.peer.ip(), error.status, &error.detail);
    // A short error fits the socket buffer, so this non-blocking write goes through whole.
    let mut response = Vec::new();
    let _ = write_error(&mut response, &error, 1, false);
    let _ = conn.stream.write_all(&response);
    let _ = conn.stream.shutdown(Shutdown::Write);
    shared.stats.answered();
    conn.deadline = Instant::now() + DRAIN_FOR;
    let mut table = lock(&shared.table);
    let wake = table.remind(conn.deadline);
    table.slots[token] = Slot::Draining(conn);
    drop(table);
    if wake {
        let _ = shared.waker.wake();
    }
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

/// The poller thread's own state.
struct Poller<'s> {
    listener: &'s TcpListener,
    registry: Registry,
    accepting: bool,
    shared: Arc<Shared>,
    queue: JobQueue<Turn>,
    shutdown: crate::ShutdownHandle,
}

impl Poller<'_> {
    fn table(&self) -> MutexGuard<'_, Table> {
        lock(&self.shared.table)
    }

    /// Listens for new connections, or stops while the connection limit is reached.
    fn set_accepting(&mut self, on: bool) -> io::Result<()> {
        if on != self.accepting {
            let fd = self.listener.as_raw_fd();
            match on {
                true => self.registry.register(&mut SourceFd(&fd), LISTENER, Interest::READABLE)?,
                false => self.registry.deregister(&mut SourceFd(&fd))?,
            }
            self.accepting = on;
        }
        Ok(())
    }

    fn accept_all(&mut self) -> io::Result<()> {
        let limit = self.shared.options.connection_limit;
        let open = self.table().open;
        self.set_accepting(open < limit)?;
        // Readiness is edge-triggered: accept until the OS says there is no one left.
        while self.accepting {
            if self.table().open >= limit {
                // Past the limit, new clients wait in the OS backlog until a connection closes.
                return self.set_accepting(false);
            }
            match self.listener.accept() {
                Ok((stream, peer)) => self.add(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // The shutdown handle stopped the socket listening: not a failure.
                Err(_) if self.shutdown.is_requested() => return Ok(()),
                Err(e) => {
                    accept_failed(&self.shared.log, e);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, stream: TcpStream, peer: SocketAddr) {
        let ready = stream
            .set_nonblocking(true)
            .and_then(|()| stream.set_write_timeout(Some(self.shared.options.write_timeout)));
        if ready.is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let deadline = Instant::now() + self.shared.options.header_timeout;
        let conn = Conn { stream, peer, receiver: Receiver::new(self.shared.options.limits()), deadline };
        let mut table = self.table();
        let token = table.free.pop().unwrap_or_else(|| {
            table.slots.push(Slot::Free);
            table.slots.len() - 1
        });
        // Registered before it is parked: bytes that are already there raise an event at once.
        if self
            .registry
            .register(&mut SourceFd(&conn.stream.as_raw_fd()), Token(token), Interest::READABLE)
            .is_err()
        {
            table.free.push(token);
            return;
        }
        table.open += 1;
        table.remind(deadline);
        table.slots[token] = Slot::Parked(conn);
        self.shared.stats.connection(1);
    }

    /// Takes the parked connections that became readable, for the workers, under one lock.
    /// A draining connection is drained here instead; one a worker has is marked `pending`.
    fn take_ready(&mut self, tokens: impl Iterator<Item = usize>) -> Vec<Turn> {
        let mut turns = Vec::new();
        let mut drained = Vec::new();
        let mut table = self.table();
        for token in tokens.filter(|&t| t != LISTENER.0 && t != WAKE.0) {
            match std::mem::replace(&mut table.slots[token], Slot::Taken { pending: false }) {
                Slot::Parked(conn) => turns.push(Turn { token, conn }),
                Slot::Taken { .. } => table.slots[token] = Slot::Taken { pending: true },
                Slot::Draining(mut conn) => {
                    let mut sink = [0u8; 16 * 1024];
                    match conn.stream.read(&mut sink) {
                        Ok(n) if n > 0 => table.slots[token] = Slot::Draining(conn),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            table.slots[token] = Slot::Draining(conn)
                        }
                        _ => drained.push((token, conn)),
                    }
                }
                Slot::Free => table.slots[token] = Slot::Free,
            }
        }
        drop(table);
        for (token, conn) in drained {
            close(&self.shared, token, Some(conn));
        }
        turns
    }

    /// Enforces deadlines when one may have passed: close an idle connection silently, answer
    /// 408 to a half-received request, close a drained one.
    fn sweep(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        {
            let mut table = self.table();
            if table.next_sweep.is_none_or(|t| t > now) {
                return;
            }
            table.next_sweep = None;
            for token in 0..table.slots.len() {
                let deadline = match &table.slots[token] {
                    Slot::Parked(c) | Slot::Draining(c) => c.deadline,
                    Slot::Free | Slot::Taken { .. } => continue,
                };
                if deadline > now {
                    table.remind(deadline);
                } else {
                    let slot = std::mem::replace(&mut table.slots[token], Slot::Taken { pending: false });
                    expired.push((token, slot));
                }
            }
        }
        for (token, slot) in expired {
            match slot {
                Slot::Parked(conn) if !conn.receiver.is_idle() => {
                    refuse(
                        &self.shared,
                        token,
                        conn,
                        HttpError::new(408, "no complete request within the header timeout"),
                    );
                }
                Slot::Parked(conn) | Slot::Draining(conn) => close(&self.shared, token, Some(conn)),
                Slot::Free | Slot::Taken { .. } => {}
            }
        }
    }

    /// Graceful shutdown: stop accepting, close what is parked, let the requests in flight
    /// finish until the deadline, stop the workers.
    fn shut_down(mut self, pool: ThreadPool<Turn>, poll: &mut Poll, events: &mut Events) -> io::Result<()> {
        self.set_accepting(false)?;
        let parked: Vec<(usize, Conn)> = {
            let mut table = self.table();
            table.closing = true;
            (0..table.slots.len())
                .filter_map(|t| match std::mem::replace(&mut table.slots[t], Slot::Free) {
                    Slot::Parked(c) | Slot::Draining(c) => Some((t, c)),
                    other => {
                        table.slots[t] = other;
                        None
                    }
                })
                .collect()
        };
        for (token, conn) in parked {
            close(&self.shared, token, Some(conn));
        }
        let now = self.shared.stats.snapshot();
        let log = self.shared.log;
        log.info(&format!(
            "shutting down: {} requests running, {} connections waiting for a worker",
            now.in_flight, now.queued
        ));
        let deadline = Instant::now() + self.shared.options.shutdown_timeout;
        while self.table().taken() > 0 && Instant::now() < deadline {
            wait(poll, events, Some(Duration::from_millis(20)))?;
        }
        let completed = self.shared.stats.served() - now.served;
        let stuck = pool.join(deadline);
        let left =
            if stuck > 0 { format!(", {stuck} workers still busy were left behind") } else { String::new() };
        log.info(&format!("shutdown complete: {completed} requests completed while shutting down{left}"));
        Ok(())
    }
}
