//! Pool mode's common ground: one epoll instance that holds the listening socket, every idle
//! connection, a deadline timer and the shutdown waker; and the table of [`Channel`]s. The two
//! pool engines differ only in who waits on it:
//!
//! - [`super::handoff`] (waitress's design): one thread waits, and hands each ready connection
//!   to a worker of a [`ThreadPool`](crate::pool::ThreadPool);
//! - [`super::shared`]: the workers wait on it themselves, and the one woken serves.
//!
//! Every connection is registered once, **edge-triggered** (`EPOLLET`): epoll reports it each
//! time new bytes arrive, to one waiter, and never again for bytes already reported, so nothing
//! has to be re-armed after a request (waitress's `select` loop asks again every time; this is
//! one system call per request saved). Whoever gets the event takes the connection out of the
//! table, serves its turn and puts it back. An event for a connection that is out of the table
//! (bytes arrived during its turn) is not lost: it marks the connection, and putting it back
//! asks epoll to report it again. So a connection is never served by two threads at once, and
//! an idle connection holds no thread.

use super::channel::{After, Channel};
use super::serving::Serving;
use crate::pool::{ThreadPool, current_worker};
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use crate::sync::lock;
use rustix::event::epoll::{self, Event, EventData, EventFlags};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The epoll data of the three sources that are not connections (connections use their place in the table).
const LISTENER: u64 = u64::MAX;
const TIMER: u64 = u64::MAX - 1;
const WAKER: u64 = u64::MAX - 2;

/// Where a connection is. Each place is in exactly one of these states.
enum Place {
    Free,
    /// In epoll, waiting for bytes or for its deadline.
    /// (Boxed once per connection: a turn moves a pointer, not the whole channel.)
    Waiting(Box<Channel>),
    /// A worker has it, for its turn. `again`: more bytes arrived meanwhile (their event came
    /// while it was out of the table), so it must be reported again when it goes back.
    Taken {
        again: bool,
    },
}

/// Which places are free: the others hold the open connections.
struct Books {
    free: Vec<usize>,
    /// Whether the listening socket is armed: not while the connection limit is reached.
    accepting: bool,
}

/// The epoll instance, the table, and what a serving server shares with its connections.
pub(crate) struct Pool {
    pub serving: Serving,
    /// The workers' lines in the live view, by worker id ([`current_worker`]).
    pub cells: Vec<Arc<Mutex<WorkerState>>>,
    epoll: OwnedFd,
    listener: Arc<TcpListener>,
    timer: OwnedFd,
    shutdown: ShutdownHandle,
    /// The table of connections, by place number (the epoll data they are registered with):
    /// one place per connection the limit allows, each behind a lock of its own. A turn locks
    /// only its own connection's place, so workers serving different connections never wait
    /// for each other, not even while one asks epoll to report its connection again.
    places: Box<[Mutex<Place>]>,
    books: Mutex<Books>,
    /// When the deadline timer fires next (`None`: disarmed).
    timer_at: Mutex<Option<Instant>>,
    /// Set at shutdown: a channel put back is closed instead.
    closing: AtomicBool,
}

/// The listener and the timer: reported once, then not again until re-armed (one thread
/// accepts or sweeps at a time).
const ONE_SHOT: EventFlags = EventFlags::IN.union(EventFlags::ONESHOT);

/// A connection: reported on each arrival of new bytes.
const EDGE: EventFlags = EventFlags::IN.union(EventFlags::ET);

impl Pool {
    /// Registers the listener, the timer and the shutdown waker, and sets up the workers' lines.
    pub fn new(
        serving: Serving,
        threads: NonZeroUsize,
        listener: Arc<TcpListener>,
        shutdown: &ShutdownHandle,
    ) -> io::Result<Pool> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        listener.set_nonblocking(true)?;
        epoll::add(&epoll, &*listener, EventData::new_u64(LISTENER), ONE_SHOT)?;
        epoll::add(&epoll, &timer, EventData::new_u64(TIMER), ONE_SHOT)?;
        // The waker is level-triggered and never drained: once shutdown writes to it, every
        // waiter that comes back to epoll sees it, one after the other.
        epoll::add(&epoll, shutdown.waker(), EventData::new_u64(WAKER), EventFlags::IN)?;
        let limit = serving.options.connection_limit;
        Ok(Pool {
            places: (0..limit).map(|_| Mutex::new(Place::Free)).collect(),
            // Reversed, so that place 0 is taken first.
            books: Mutex::new(Books { free: (0..limit).rev().collect(), accepting: true }),
            timer_at: Mutex::new(None),
            closing: AtomicBool::new(false),
            shutdown: shutdown.clone(),
            cells: serving.stats.add_workers(threads.get()),
            serving,
            epoll,
            listener,
            timer,
        })
    }

    /// Waits for at most `events.capacity()` events, for at most `wait` (`None`: until there
    /// is one), and does what each asks: accepts, sweeps, or takes a connection out of the
    /// table and hands its turn to `serve`, which must end it with [`Pool::serve`]. Returns
    /// `Ok(false)` once shutdown was asked for. A signal interrupting the wait is not an error.
    pub fn poll(
        &self,
        events: &mut Vec<Event>,
        wait: Option<&Timespec>,
        mut serve: impl FnMut(usize, Box<Channel>),
    ) -> io::Result<bool> {
        events.clear();
        if let Err(e) = epoll::wait(&self.epoll, rustix::buffer::spare_capacity(events), wait)
            && e != rustix::io::Errno::INTR
        {
            return Err(e.into());
        }
        for event in events.iter() {
            match event.data.u64() {
                LISTENER => self.accept(),
                TIMER => self.sweep(),
                WAKER => return Ok(false),
                token => {
                    if let Some(channel) = self.take(token as usize) {
                        serve(token as usize, channel);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Takes a waiting connection out of the table for its turn. Nothing for a connection
    /// already taken (marked to be reported again when it goes back) or closed meanwhile.
    fn take(&self, token: usize) -> Option<Box<Channel>> {
        let mut place = lock(&self.places[token]);
        match std::mem::replace(&mut *place, Place::Taken { again: false }) {
            Place::Waiting(channel) => return Some(channel),
            Place::Taken { .. } => *place = Place::Taken { again: true },
            Place::Free => *place = Place::Free,
        }
        None
    }

    /// A connection's turn on the calling worker, then back to the table (or closed).
    pub fn serve(&self, token: usize, mut channel: Box<Channel>) {
        // A turn does not know which worker runs it; the worker's thread does.
        let cell = &self.cells[current_worker().unwrap_or(0)];
        let after = channel.handle_read(&self.serving, cell);
        self.put_back(token, channel, after);
    }

    /// Puts a channel back after its turn; closes it if asked to, or if the server is shutting
    /// down.
    pub fn put_back(&self, token: usize, channel: Box<Channel>, after: After) {
        let mut place = lock(&self.places[token]);
        // Checked under the place's lock: shutdown sets `closing`, then empties every place
        // under its lock, so a channel is either closed here or found there.
        if after == After::Close || self.closing.load(Ordering::SeqCst) {
            return self.close(place, token, channel);
        }
        let again = matches!(*place, Place::Taken { again: true });
        self.arm_timer(channel.deadline());
        // Back in the table before epoll is asked anything: from then on another thread may
        // take it. Asked under the place's lock, so that no one can close it in between.
        *place = Place::Waiting(channel);
        let flags = match after {
            // Writable at once: epoll reports it again right away, behind the connections
            // already waiting, which is how it yields its turn.
            After::Requeue => EDGE | EventFlags::OUT,
            // Bytes came during the turn, and their event is spent: modifying the registration
            // makes epoll look at the socket again and report it if bytes are still unread.
            _ if again => EDGE,
            _ => return,
        };
        if let Place::Waiting(channel) = &*place {
            let _ = epoll::modify(&self.epoll, channel.socket(), EventData::new_u64(token as u64), flags);
        }
    }

    /// Frees a place; the channel is closed by dropping it, which also removes it from epoll.
    fn close(&self, mut place: MutexGuard<'_, Place>, token: usize, channel: Box<Channel>) {
        drop(channel);
        *place = Place::Free;
        drop(place);
        self.serving.stats.connection(-1);
        let mut books = lock(&self.books);
        books.free.push(token);
        // Below the connection limit again: accept again.
        if !books.accepting && !self.closing.load(Ordering::SeqCst) {
            books.accepting = true;
            let _ = epoll::modify(&self.epoll, &*self.listener, EventData::new_u64(LISTENER), ONE_SHOT);
        }
    }

    /// Accepts every waiting client, up to the connection limit, and registers each.
    fn accept(&self) {
        loop {
            {
                let mut books = lock(&self.books);
                if books.free.is_empty() {
                    // Past the limit, new clients wait in the OS backlog until a connection
                    // closes; `close` re-arms the listener then.
                    books.accepting = false;
                    return;
                }
            }
            match self.listener.accept() {
                Ok((stream, peer)) => match Channel::new(stream, peer, &self.serving) {
                    Ok(channel) => self.add(Box::new(channel)),
                    Err(_) => continue,
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The shutdown handle stopped the socket listening: not a failure, and the
                // listener stays disarmed.
                Err(_) if self.shutdown.is_requested() => return,
                Err(e) => {
                    // Out of file descriptors, say: pause rather than spin.
                    self.serving.log.info(&format!("accept failed: {e}; pausing 100 ms"));
                    std::thread::sleep(Duration::from_millis(100));
                    break;
                }
            }
        }
        let _ = epoll::modify(&self.epoll, &*self.listener, EventData::new_u64(LISTENER), ONE_SHOT);
    }

    fn add(&self, channel: Box<Channel>) {
        // Counted open (its place taken) before it is registered: from then on a worker may
        // serve and close it. `accept` takes no more than the limit, so a place is free here.
        let Some(token) = lock(&self.books).free.pop() else { return };
        self.serving.stats.connection(1);
        self.arm_timer(channel.deadline());
        // Registered under the place's lock: bytes that are already there raise an event at
        // once, and whoever takes it waits until the channel is in its place.
        let mut place = lock(&self.places[token]);
        let data = EventData::new_u64(token as u64);
        match epoll::add(&self.epoll, channel.socket(), data, EDGE) {
            Ok(()) => *place = Place::Waiting(channel),
            Err(_) => self.close(place, token, channel),
        }
    }

    /// Arms the timer for `deadline` if it falls before the time it is armed for.
    fn arm_timer(&self, deadline: Instant) {
        let mut timer_at = lock(&self.timer_at);
        if timer_at.is_none_or(|t| deadline < t) {
            *timer_at = Some(deadline);
            let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_micros(1));
            let spec = Itimerspec {
                it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: wait.subsec_nanos().into() },
            };
            let _ = rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec);
        }
    }

    /// The timer fired: gives each waiting connection whose wait ran out what it is due (a
    /// 408, or closing), and arms the timer for the next deadline.
    fn sweep(&self) {
        let mut expirations = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut expirations);
        let now = Instant::now();
        let mut expired = Vec::new();
        *lock(&self.timer_at) = None;
        let mut next: Option<Instant> = None;
        for token in 0..self.places.len() {
            let mut place = lock(&self.places[token]);
            let Place::Waiting(channel) = &*place else { continue };
            let deadline = channel.deadline();
            if deadline > now {
                next = Some(next.map_or(deadline, |t| t.min(deadline)));
            } else if let Place::Waiting(channel) =
                std::mem::replace(&mut *place, Place::Taken { again: false })
            {
                expired.push((token, channel));
            }
        }
        if let Some(next) = next {
            self.arm_timer(next);
        }
        for (token, mut channel) in expired {
            let after = channel.expire(&self.serving);
            self.put_back(token, channel, after);
        }
        let _ = epoll::modify(&self.epoll, &self.timer, EventData::new_u64(TIMER), ONE_SHOT);
    }

    /// Graceful shutdown, once the listener has stopped listening (SPEC §6): close the waiting
    /// connections, let the turns in progress finish until the deadline, stop the workers, and
    /// say how it went.
    pub fn finish(&self, workers: ThreadPool) {
        let deadline = Instant::now() + self.serving.options.shutdown_timeout;
        self.closing.store(true, Ordering::SeqCst);
        for token in 0..self.places.len() {
            let mut place = lock(&self.places[token]);
            match std::mem::replace(&mut *place, Place::Free) {
                Place::Waiting(channel) => self.close(place, token, channel),
                // A free place stays free; a taken one a worker closes when it puts it back.
                other => *place = other,
            }
        }
        let before = self.serving.stats.snapshot();
        self.serving.log.info(&format!(
            "shutting down: {} requests running, {} connections waiting for a worker",
            before.in_flight, before.queued
        ));
        // Joining the workers waits for the turns in progress: a worker ends after its turn.
        let stuck = workers.shutdown(deadline);
        let completed = self.serving.stats.served() - before.served;
        let left =
            if stuck > 0 { format!(", {stuck} workers still busy were left behind") } else { String::new() };
        self.serving
            .log
            .info(&format!("shutdown complete: {completed} requests completed while shutting down{left}"));
    }
}
