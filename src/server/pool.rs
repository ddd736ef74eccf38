//! Pool mode's common ground: one epoll instance that holds the listening socket, every idle
//! connection, a deadline timer and the shutdown waker; and the table of [`Channel`]s. The two
//! pool engines differ only in who waits on it:
//!
//! - [`super::handoff`] (waitress's design): one thread waits, and hands each ready connection
//!   to a worker of a [`ThreadPool`](crate::pool::ThreadPool);
//! - [`super::shared`]: the workers wait on it themselves, and the one woken serves.
//!
//! Every connection is registered **one-shot** (`EPOLLONESHOT`): when it becomes readable,
//! epoll reports it once, to one waiter, and then not again until the connection is re-armed.
//! Whoever took it serves its turn, puts it back in the table, and only then re-arms it. So a
//! connection is never served by two threads at once, and an idle connection holds no thread.

use super::channel::{After, Channel, Until};
use super::serving::Serving;
use crate::pool::ThreadPool;
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use rustix::event::epoll::{self, Event, EventData, EventFlags};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::io;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The epoll data of the three sources that are not connections (connections use their place in the table).
const LISTENER: u64 = u64::MAX;
const TIMER: u64 = u64::MAX - 1;
const WAKER: u64 = u64::MAX - 2;

/// What one epoll event asks for.
pub(crate) enum Ready {
    /// A connection's turn: it was taken out of the table and must go back with [`Pool::put_back`].
    Serve(usize, Box<Channel>),
    /// Clients are waiting to be accepted.
    Accept,
    /// A deadline may have passed.
    Sweep,
    /// Shutdown was asked for.
    Shutdown,
    /// Nothing to do (a connection that was closed meanwhile).
    Nothing,
}

/// Where a connection is. Each place is in exactly one of these states.
enum Place {
    Free,
    /// In epoll, waiting for bytes or for its deadline.
    /// (Boxed once per connection: a turn moves a pointer, not the whole channel.)
    Waiting(Box<Channel>),
    /// A worker has it, for its turn.
    Taken,
}

/// The connections, by place number (the epoll data they are registered with).
struct Table {
    places: Vec<Place>,
    free: Vec<usize>,
    open: usize,
    /// Whether the listening socket is armed: not while the connection limit is reached.
    accepting: bool,
    /// When the deadline timer fires next (`None`: disarmed).
    timer_at: Option<Instant>,
    /// Set at shutdown: a channel put back is closed instead.
    closing: bool,
}

/// The epoll instance, the table, and what a serving server shares with its connections.
pub(crate) struct Pool {
    pub serving: Serving,
    epoll: OwnedFd,
    listener: Arc<TcpListener>,
    timer: OwnedFd,
    shutdown: ShutdownHandle,
    table: Mutex<Table>,
}

fn one_shot() -> EventFlags {
    EventFlags::IN | EventFlags::ONESHOT
}

impl Pool {
    /// Registers the listener, the timer and the shutdown waker.
    pub fn new(serving: Serving, listener: Arc<TcpListener>, shutdown: &ShutdownHandle) -> io::Result<Pool> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        listener.set_nonblocking(true)?;
        epoll::add(&epoll, &*listener, EventData::new_u64(LISTENER), one_shot())?;
        epoll::add(&epoll, &timer, EventData::new_u64(TIMER), one_shot())?;
        // The waker is level-triggered and never drained: once shutdown writes to it, every
        // waiter that comes back to epoll sees it, one after the other.
        epoll::add(&epoll, shutdown.waker(), EventData::new_u64(WAKER), EventFlags::IN)?;
        let table = Table {
            places: Vec::new(),
            free: Vec::new(),
            open: 0,
            accepting: true,
            timer_at: None,
            closing: false,
        };
        let shutdown = shutdown.clone();
        Ok(Pool { serving, epoll, listener, timer, shutdown, table: Mutex::new(table) })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for at most `events.capacity()` events; a signal interrupting the wait is not an
    /// error.
    pub fn wait(&self, events: &mut Vec<Event>) -> io::Result<()> {
        events.clear();
        match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(events), None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// What an event asks for. A connection's turn takes it out of the table.
    pub fn ready(&self, event: &Event) -> Ready {
        match event.data.u64() {
            LISTENER => Ready::Accept,
            TIMER => Ready::Sweep,
            WAKER => Ready::Shutdown,
            token => {
                let token = token as usize;
                let mut table = self.table();
                match std::mem::replace(&mut table.places[token], Place::Taken) {
                    Place::Waiting(channel) => Ready::Serve(token, channel),
                    other => {
                        table.places[token] = other;
                        Ready::Nothing
                    }
                }
            }
        }
    }

    /// A connection's turn, then back to the table (or closed).
    pub fn serve(&self, token: usize, mut channel: Box<Channel>, cell: &Mutex<WorkerState>) {
        let after = channel.handle_read(&self.serving, cell);
        self.put_back(token, channel, after);
    }

    /// Puts a channel back after its turn and re-arms it; closes it if asked to, or if the
    /// server is shutting down.
    fn put_back(&self, token: usize, channel: Box<Channel>, after: After) {
        let mut table = self.table();
        if after == After::Close || table.closing {
            return self.close(table, token, channel);
        }
        let deadline = channel.until().deadline();
        let flags = match after {
            // Writable at once: the connection is reported again right away, behind the
            // connections already waiting, which is how it yields its turn.
            After::Requeue => one_shot() | EventFlags::OUT,
            _ => one_shot(),
        };
        // Back in the table before it is re-armed: from the re-arming on, another thread may
        // take it (an event for a channel not in the table would be lost, and one-shot, never
        // repeated). Re-armed under the lock, so that no one can close it in between.
        table.places[token] = Place::Waiting(channel);
        self.arm_timer(&mut table, deadline);
        if let Place::Waiting(channel) = &table.places[token] {
            let _ = epoll::modify(&self.epoll, channel.socket(), EventData::new_u64(token as u64), flags);
        }
    }

    /// Frees a place; the channel is closed by dropping it, which also removes it from epoll.
    fn close(&self, mut table: MutexGuard<'_, Table>, token: usize, channel: Box<Channel>) {
        drop(channel);
        table.places[token] = Place::Free;
        table.free.push(token);
        table.open -= 1;
        self.serving.stats.connection(-1);
        // Below the connection limit again: accept again.
        if !table.accepting && !table.closing && table.open < self.serving.options.connection_limit {
            table.accepting = true;
            let _ = epoll::modify(&self.epoll, &*self.listener, EventData::new_u64(LISTENER), one_shot());
        }
    }

    /// Accepts every waiting client, up to the connection limit, and registers each.
    pub fn accept(&self) {
        let limit = self.serving.options.connection_limit;
        loop {
            {
                let mut table = self.table();
                if table.open >= limit {
                    // Past the limit, new clients wait in the OS backlog until a connection
                    // closes; `close` re-arms the listener then.
                    table.accepting = false;
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
        let _ = epoll::modify(&self.epoll, &*self.listener, EventData::new_u64(LISTENER), one_shot());
    }

    fn add(&self, channel: Box<Channel>) {
        let mut table = self.table();
        let token = table.free.pop().unwrap_or_else(|| {
            table.places.push(Place::Free);
            table.places.len() - 1
        });
        let deadline = channel.until().deadline();
        // Registered once it is in the table: bytes that are already there raise an event at once.
        let data = EventData::new_u64(token as u64);
        if epoll::add(&self.epoll, channel.socket(), data, one_shot()).is_err() {
            table.free.push(token);
            return;
        }
        table.places[token] = Place::Waiting(channel);
        table.open += 1;
        self.serving.stats.connection(1);
        self.arm_timer(&mut table, deadline);
    }

    /// Arms the timer for `deadline` if it falls before the time it is armed for.
    fn arm_timer(&self, table: &mut Table, deadline: Instant) {
        if table.timer_at.is_none_or(|t| deadline < t) {
            table.timer_at = Some(deadline);
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
    pub fn sweep(&self) {
        let mut expirations = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut expirations);
        let now = Instant::now();
        let mut expired = Vec::new();
        {
            let mut table = self.table();
            table.timer_at = None;
            let mut next: Option<Instant> = None;
            for token in 0..table.places.len() {
                let Place::Waiting(channel) = &table.places[token] else { continue };
                let deadline = channel.until().deadline();
                if deadline <= now {
                    if let Place::Waiting(channel) = std::mem::replace(&mut table.places[token], Place::Taken)
                    {
                        expired.push((token, channel));
                    }
                } else {
                    next = Some(next.map_or(deadline, |t| t.min(deadline)));
                }
            }
            if let Some(next) = next {
                self.arm_timer(&mut table, next);
            }
        }
        for (token, mut channel) in expired {
            let after = match channel.until() {
                Until::Header(_) => channel.expire(&self.serving),
                Until::Idle(_) | Until::Drain(_) => After::Close,
            };
            self.put_back(token, channel, after);
        }
        let _ = epoll::modify(&self.epoll, &self.timer, EventData::new_u64(TIMER), one_shot());
    }

    /// Graceful shutdown, once the listener has stopped listening (SPEC §6): close the waiting
    /// connections, let the turns in progress finish until the deadline, stop the workers, and
    /// say how it went.
    pub fn finish(&self, workers: ThreadPool) {
        let deadline = Instant::now() + self.serving.options.shutdown_timeout;
        let completed = self.shut_down(deadline);
        let stuck = workers.shutdown(deadline);
        let left =
            if stuck > 0 { format!(", {stuck} workers still busy were left behind") } else { String::new() };
        self.serving
            .log
            .info(&format!("shutdown complete: {completed} requests completed while shutting down{left}"));
    }

    /// Closes the waiting connections and waits until `deadline` for the turns in progress;
    /// returns how many requests completed meanwhile.
    fn shut_down(&self, deadline: Instant) -> u64 {
        let waiting: Vec<(usize, Box<Channel>)> = {
            let mut table = self.table();
            table.closing = true;
            (0..table.places.len())
                .filter_map(|t| match std::mem::replace(&mut table.places[t], Place::Taken) {
                    Place::Waiting(channel) => Some((t, channel)),
                    other => {
                        table.places[t] = other;
                        None
                    }
                })
                .collect()
        };
        for (token, channel) in waiting {
            self.close(self.table(), token, channel);
        }
        let before = self.serving.stats.snapshot();
        let log = self.serving.log;
        log.info(&format!(
            "shutting down: {} requests running, {} connections waiting for a worker",
            before.in_flight, before.queued
        ));
        let taken = || self.table().places.iter().filter(|s| matches!(s, Place::Taken)).count();
        while taken() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.serving.stats.served() - before.served
    }
}
