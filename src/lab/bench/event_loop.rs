//! One bench thread: an event loop driving many connections, wrk's design.
//!
//! wrk runs `-t` threads (one per core is the advice), gives each `-c / -t` connections and
//! its own event loop (epoll on Linux), and never blocks: a thread waits in `epoll_wait` for
//! whichever of its sockets is ready, reads what arrived, and when a response is complete
//! writes the next request on that connection at once. A closed loop is then a few system
//! calls per request (one write, one read, a share of one `epoll_wait`) on a thread that
//! stays on its core, where a thread per connection pays a sleep and a wake-up per request
//! and, past the cores, a crowd of threads for the scheduler to juggle.
//!
//! The loop here does the same with `rustix`'s epoll, level-triggered: a socket is
//! registered for readable while a response is awaited (or while it idles, so a server
//! closing it is noticed), for writable while it connects or while a large request is still
//! going out. The clocks are kept without a timer per connection:
//!
//! - the end of the bench, the per-request timeouts and the pauses after a failed connect:
//!   `epoll_wait` returns at least every [`SWEEP`], and the loop then looks over its
//!   connections, as wrk's `check_timeouts` does (a timeout is seconds; 10 ms is plenty);
//! - the open loop's schedule: connections waiting for their next request's time sit in a
//!   min-heap by that time, and one `timerfd` wakes the loop for the earliest (`timer.rs`).
//!
//! What the thread counts goes into its own [`Tally`]; only a progress counter is shared.

use super::ErrorKind;
use super::connection::{Connection, Phase};
use super::plan::{Plan, Shared};
use super::response::{ReadError, Response};
use super::tally::Tally;
use super::timer::Timer;
use rustix::event::epoll::{self, Event, EventFlags};
use rustix::time::Timespec;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

mod setup;
pub(super) use setup::Opened;

/// How often the loop looks for timeouts and for connect back-offs that are over.
const SWEEP: Duration = Duration::from_millis(10);

/// How long a busy thread keeps asking epoll before it sleeps in it: a loopback response comes
/// microseconds after its request, and a sleep would add a wake-up to every request of a closed
/// loop (at 10 connections, 2 threads: 0.85 × wrk's requests/s without it, 0.98 × with it).
const POLL_BEFORE_SLEEP: Duration = Duration::from_micros(20);

/// After a failed connect, wait this long before the next try.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// A send later than this after its scheduled time counts as late.
const LATE: Duration = Duration::from_millis(1);

/// The thread's receive buffer: every connection's bytes land here, and are parsed in place.
const RECEIVE_BUFFER: usize = 64 * 1024;

/// The epoll data of the schedule's timer (connections use their token, whose top half is a
/// generation that never reaches `u32::MAX` in a bench).
const TIMER: u64 = u64::MAX;

/// Runs thread `thread` of the bench until it is over and returns what it saw. What its first
/// connects found goes to `ready` before it waits at the start gate.
pub(super) fn run_thread(thread: usize, plan: &Plan<'_>, shared: &Shared, ready: Sender<Opened>) -> Tally {
    let mut driver = match Driver::new(thread, plan, shared) {
        Ok(driver) => driver,
        Err(e) => {
            let mut tally = Tally::new(plan.connections_of(thread).len(), plan.schedule.is_some());
            tally.error(ErrorKind::Connect, || format!("cannot start an event loop: {e}"));
            let _ = ready.send(Opened { opened: 0, first_error: Some(e) });
            drop(ready);
            shared.gate.wait();
            return tally;
        }
    };
    let _ = ready.send(driver.open_all());
    drop(ready);
    let Some(start) = shared.gate.wait() else { return driver.tally };
    driver.run(start);
    driver.tally
}

/// One thread's event loop and everything it owns.
struct Driver<'a> {
    plan: &'a Plan<'a>,
    shared: &'a Shared,
    thread: usize,
    epoll: OwnedFd,
    /// The open loop's clock: who waits for which time (none in a closed loop).
    timer: Option<Timer>,
    events: Vec<Event>,
    buffer: Box<[u8]>,
    /// The thread's connections; a connection's place here is its `slot`.
    conns: Vec<Connection>,
    tally: Tally,
    /// Connections not yet [`Phase::Done`]; the thread is finished when none is left.
    live: usize,
    /// Requests completed by this thread, for the shared progress counter.
    completed: u64,
    start: Instant,
    end: Option<Instant>,
}

impl<'a> Driver<'a> {
    fn new(thread: usize, plan: &'a Plan<'a>, shared: &'a Shared) -> io::Result<Self> {
        let now = Instant::now();
        let conns: Vec<Connection> =
            plan.connections_of(thread).map(|i| Connection::new(i, plan.head_request, now)).collect();
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let timer = match plan.schedule {
            None => None,
            Some(_) => Some(Timer::new(&epoll, TIMER, conns.len())?),
        };
        Ok(Driver {
            plan,
            shared,
            thread,
            epoll,
            timer,
            events: Vec::with_capacity(conns.len().clamp(1, 1024) + 1),
            buffer: vec![0; RECEIVE_BUFFER].into_boxed_slice(),
            live: conns.len(),
            tally: Tally::new(conns.len(), plan.schedule.is_some()),
            conns,
            completed: 0,
            start: now,
            end: None,
        })
    }

    /// The loop itself: wait, handle what is ready, look at the clocks; until the time is up
    /// or every connection is done.
    fn run(&mut self, start: Instant) {
        self.start = start;
        self.end = self.plan.duration.map(|d| start + d);
        for slot in 0..self.conns.len() {
            self.conns[slot].idle_since = start;
            self.next(slot, start);
        }
        let mut next_sweep = start + SWEEP;
        loop {
            let now = Instant::now();
            if self.over(now) || self.live == 0 {
                break;
            }
            let wake = self.end.map_or(next_sweep, |end| end.min(next_sweep));
            if let Some(timer) = &mut self.timer {
                timer.arm(now);
            }
            let busy = !self.events.is_empty();
            self.wait(wake.saturating_duration_since(now), busy);
            for i in 0..self.events.len() {
                self.dispatch(i);
            }
            let now = Instant::now();
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
            while let Some(slot) = self.timer.as_mut().and_then(|t| t.pop_due(now)) {
                self.next(slot, now);
            }
        }
        self.tally.in_flight += self.conns.iter().filter(|c| c.in_flight()).count() as u64;
    }

    /// Whether the time is up (duration mode), or the bench was cancelled.
    fn over(&self, now: Instant) -> bool {
        self.end.is_some_and(|end| now >= end) || self.plan.cancel.is_some_and(|c| c.load(Relaxed))
    }

    /// Waits in epoll for at most `timeout`, first asking without sleeping for up to
    /// [`POLL_BEFORE_SLEEP`] if the thread is `busy`; the events are left in `self.events`.
    fn wait(&mut self, timeout: Duration, busy: bool) {
        let poll_until = Instant::now() + POLL_BEFORE_SLEEP;
        loop {
            self.events.clear();
            let polling = busy && Instant::now() < poll_until;
            let timeout = if polling { Duration::ZERO } else { timeout };
            let timeout = Timespec::try_from(timeout).ok();
            // An interrupted wait is an empty one; any other error cannot be fixed by waiting
            // again, and the clock still ends the bench.
            let _ =
                epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut self.events), timeout.as_ref());
            if !polling || !self.events.is_empty() {
                return;
            }
        }
    }

    /// The connection an event is for, or `None` for the timer or a socket already closed.
    fn slot_of(&mut self, i: usize) -> Option<usize> {
        let data = self.events[i].data.u64();
        if data == TIMER {
            // The waiting connections whose time came are taken after the events.
            if let Some(timer) = &mut self.timer {
                timer.fired();
            }
            return None;
        }
        let slot = (data & u64::from(u32::MAX)) as usize;
        let conn = self.conns.get(slot)?;
        (conn.generation == (data >> 32) as u32 && conn.socket.is_some()).then_some(slot)
    }

    /// Handles event `i`: what it means depends on what its connection is doing.
    fn dispatch(&mut self, i: usize) {
        let Some(slot) = self.slot_of(i) else { return };
        // A connect that failed is reported as an error or a hang-up; one that worked only as
        // writable, and then asking the socket (one more system call) is not needed.
        let flags = { self.events[i].flags }; // a copy: epoll events are packed
        let failed = flags.intersects(EventFlags::ERR | EventFlags::HUP);
        match self.conns[slot].phase {
            Phase::Connecting => match failed.then(|| self.conns[slot].connected().err()) {
                None => {
                    self.tally.reconnects += 1;
                    self.send(slot, Instant::now());
                }
                Some(e) => {
                    let e = e.unwrap_or_else(|| io::ErrorKind::ConnectionAborted.into());
                    self.connect_failed(slot, e, Instant::now());
                }
            },
            Phase::Writing => self.write(slot),
            Phase::Reading => self.read(slot),
            // Readable while no response is awaited: the server closed an idle keep-alive
            // connection (or sent what nobody asked for). Not a failed request: close it, and
            // the next request opens a new one.
            Phase::Idle | Phase::Backoff(_) | Phase::Done => self.conns[slot].close(),
        }
    }

    /// Takes connection `slot`'s next request, if there is one and it is due, and starts it.
    fn next(&mut self, slot: usize, now: Instant) {
        if self.over(now) {
            return self.retire(slot);
        }
        if let Some(schedule) = self.plan.schedule {
            let conn = &mut self.conns[slot];
            let due = schedule.due(self.start, conn.index, conn.nth);
            // A request due after the end is not part of this bench.
            if self.end.is_some_and(|end| due >= end) {
                return self.retire(slot);
            }
            if due > now {
                conn.phase = Phase::Idle;
                self.timer.as_mut().expect("an open loop has a timer").wait_until(due, slot);
                return;
            }
            conn.nth += 1;
            conn.due = Some(due);
        }
        if self.plan.requests.is_some_and(|n| self.shared.tickets.fetch_add(1, Relaxed) >= n) {
            return self.retire(slot);
        }
        if self.plan.schedule.is_some() {
            self.tally.taken += 1;
        }
        if self.conns[slot].socket.is_some() {
            return self.send(slot, now);
        }
        match self.conns[slot].open(self.plan.addr, &self.epoll, slot) {
            Ok(true) => {
                self.tally.reconnects += 1;
                self.send(slot, now);
            }
            Ok(false) => {
                self.conns[slot].phase = Phase::Connecting;
                self.conns[slot].deadline = now + self.plan.timeout;
            }
            Err(e) => self.connect_failed(slot, e, now),
        }
    }

    /// Starts sending the request on a connected socket. Latency runs from here to the
    /// response's last byte, as wrk measures it: opening the connection is not part of it.
    fn send(&mut self, slot: usize, now: Instant) {
        let conn = &mut self.conns[slot];
        (conn.sent, conn.written, conn.deadline) = (now, 0, now + self.plan.timeout);
        if let Some(due) = conn.due {
            self.tally.sent += 1;
            if now > due + LATE {
                self.tally.late += 1;
                self.tally.late_idle += u64::from(conn.idle_since <= due);
            }
        }
        self.write(slot);
    }

    /// Writes what is left of the request; once it is all out, waits for the response.
    fn write(&mut self, slot: usize) {
        match self.conns[slot].write_rest(&self.epoll, slot, self.plan.request) {
            Ok(Some(response)) => self.complete(slot, response),
            Ok(None) => {}
            Err(e) => self.fail(slot, e),
        }
    }

    /// Reads what has arrived on the connection.
    fn read(&mut self, slot: usize) {
        match self.conns[slot].read_response(&mut self.buffer, &mut self.tally.received) {
            Ok(Some(response)) => self.complete(slot, response),
            Ok(None) => {}
            Err(e) => self.fail(slot, e),
        }
    }

    /// A whole response arrived: count it, and go on with the next request.
    fn complete(&mut self, slot: usize, response: Response) {
        let done = Instant::now();
        // A response not complete when the time was up does not count: it was in flight.
        if self.over(done) {
            self.tally.in_flight += 1;
            return self.retire(slot);
        }
        let conn = &mut self.conns[slot];
        self.tally.per_connection[slot] += 1;
        self.tally.statuses[usize::from(response.status).min(999)] += 1;
        self.tally.latency.saturating_record((done - conn.sent).as_micros() as u64);
        if let (Some(due), Some(histogram)) = (conn.due, &mut self.tally.from_schedule) {
            histogram.saturating_record((done - due).as_micros() as u64);
        }
        self.completed += 1;
        self.shared.completed[self.thread].0.store(self.completed, Relaxed);
        if !(response.keep_alive && self.plan.keep_alive) {
            conn.close();
        }
        conn.idle_since = done;
        conn.phase = Phase::Idle;
        self.next(slot, done);
    }

    /// A request failed: count why, start afresh on a new connection (the old one is in an
    /// unknown state) with the next request.
    fn fail(&mut self, slot: usize, e: ReadError) {
        let kind = match &e {
            ReadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
            ReadError::Io(_) | ReadError::Closed => ErrorKind::Reset,
            ReadError::Malformed(_) => ErrorKind::Malformed,
        };
        self.failed(slot, kind, || e.to_string());
    }

    fn failed(&mut self, slot: usize, kind: ErrorKind, words: impl FnOnce() -> String) {
        let now = Instant::now();
        if self.over(now) {
            self.tally.in_flight += 1;
            return self.retire(slot);
        }
        self.tally.error(kind, words);
        let conn = &mut self.conns[slot];
        conn.close();
        conn.idle_since = now;
        conn.phase = Phase::Idle;
        self.next(slot, now);
    }

    /// A connect failed: counted (the request it was for is spent), tried again after a pause.
    fn connect_failed(&mut self, slot: usize, e: io::Error, now: Instant) {
        self.tally.error(ErrorKind::Connect, || e.to_string());
        let conn = &mut self.conns[slot];
        conn.close();
        conn.idle_since = now;
        conn.phase = Phase::Backoff(now + CONNECT_BACKOFF);
    }

    /// The connection has nothing more to send.
    fn retire(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        if conn.phase != Phase::Done {
            conn.phase = Phase::Done;
            self.live -= 1;
        }
    }

    /// Times out connects and requests past their deadline; ends back-offs that are over.
    fn sweep(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            let (phase, deadline) = (self.conns[slot].phase, self.conns[slot].deadline);
            match phase {
                Phase::Connecting if now >= deadline => {
                    self.connect_failed(slot, io::ErrorKind::TimedOut.into(), now)
                }
                Phase::Writing | Phase::Reading if now >= deadline => {
                    let timeout = self.plan.timeout;
                    self.failed(slot, ErrorKind::Timeout, || {
                        format!("no complete response within {timeout:?}")
                    });
                }
                Phase::Backoff(until) if now >= until => {
                    self.conns[slot].phase = Phase::Idle;
                    self.next(slot, now);
                }
                _ => {}
            }
        }
    }
}
