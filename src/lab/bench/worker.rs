//! One connection of the bench, on a thread of its own: a closed loop of "send a request,
//! read the whole response, send the next". A slow server therefore slows its client down,
//! which is what a class wants to see.
//!
//! In an open loop (a rate is set) each request also has a scheduled time, and the thread
//! sleeps until it before sending. Still one request at a time per connection, so a slow
//! response makes the next sends late: the latency measured from the schedule counts that
//! wait, the latency from the send does not.

use super::ErrorKind;
use super::response::{ReadError, ResponseReader};
use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a thread blocked on a read wakes up to look at the clock. Short enough that the
/// bench stops promptly when its time is up, long enough to cost nothing.
const TICK: Duration = Duration::from_millis(25);

/// After a refused connection, wait this long before the next try, or a thread would spin
/// and count thousands of refusals a second.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// What every connection reads and nobody changes once the bench runs.
pub(super) struct Plan<'a> {
    pub addr: SocketAddr,
    /// The request bytes, sent as they are each time.
    pub request: &'a [u8],
    /// `HEAD` responses have no body, whatever their headers say.
    pub head_request: bool,
    pub keep_alive: bool,
    pub timeout: Duration,
    /// Stop after this long (duration mode)...
    pub duration: Option<Duration>,
    /// ...or after this many requests in total across connections (count mode).
    pub requests: Option<u64>,
    /// The open loop's schedule, if any.
    pub schedule: Option<Schedule>,
}

/// When each request of an open loop is due. The requests of the whole bench are numbered
/// k = 0, 1, 2... and request k is due k / rate after the start; connection `index` of C
/// sends requests index, index + C, index + 2C..., so each connection gets rate / C of them,
/// evenly staggered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// Requests per second, across all connections.
    pub rate: f64,
    pub connections: usize,
}

impl Schedule {
    /// When connection `index`'s `nth` request is due.
    fn due(&self, start: Instant, index: usize, nth: u64) -> Instant {
        let k = nth as f64 * self.connections as f64 + index as f64;
        start + Duration::from_secs_f64(k / self.rate)
    }
}

/// A send later than this after its scheduled time counts as late.
const LATE: Duration = Duration::from_millis(1);

/// What the connections share. Past the start gate everything is atomic, so no connection
/// ever waits for another one.
pub(super) struct Shared {
    /// Requests taken so far in count mode: each connection takes a ticket before it sends,
    /// which is how exactly N requests are sent across all of them.
    pub tickets: AtomicU64,
    /// Opened when every connection has been tried, so setting up C connections is not
    /// part of the measured time.
    pub gate: Gate,
    /// Completed requests per connection, for the progress line (one writer each).
    pub completed: Vec<Counter>,
}

/// The start gate. The coordinator opens it with the start time, or with `None` to send
/// every thread home (when no connection at all could be opened, or a thread failed to start).
#[derive(Default)]
pub(super) struct Gate {
    /// `None` while closed; then `Some(start)`, or `Some(None)` for "go home".
    state: Mutex<Option<Option<Instant>>>,
    opened: Condvar,
}

impl Gate {
    pub fn open(&self, start: Option<Instant>) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(start);
        self.opened.notify_all();
    }

    /// Waits until the gate opens; the start time, or `None` to give up.
    pub fn wait(&self) -> Option<Instant> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.opened.wait_while(state, |s| s.is_none()).unwrap_or_else(|e| e.into_inner());
        state.flatten()
    }
}

/// A counter on a cache line of its own, so that ten threads each bumping their own do not
/// slow each other down by sharing one line.
#[repr(align(64))]
#[derive(Default)]
pub(super) struct Counter(pub AtomicU64);

/// What one connection saw. The coordinator adds them up into the report.
pub(super) struct Tally {
    pub completed: u64,
    /// How many responses had each status code (indexed by the code, 0..=999).
    pub statuses: Vec<u64>,
    /// Errors, indexed by [`ErrorKind::index`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// The first error of each kind, in words, indexed the same way.
    pub first_errors: [Option<String>; ErrorKind::ALL.len()],
    pub received: u64,
    pub reconnects: u64,
    /// 1 if a request was still unanswered when the time was up.
    pub in_flight: u64,
    /// Latency of completed requests, in microseconds, from the send.
    pub latency: Histogram<u64>,
    /// Open loop only: latency of completed requests from their scheduled time.
    pub from_schedule: Option<Histogram<u64>>,
    /// Open loop only: scheduled requests whose time came before the end (each one sent, or
    /// counted as a connect error).
    pub taken: u64,
    /// Open loop only: requests sent, and of those, sent more than [`LATE`] after their time.
    pub sent: u64,
    pub late: u64,
    /// Open loop only: late sends whose connection had its previous response by their
    /// scheduled time, so the delay was the generator's own, not a wait for the server.
    pub late_idle: u64,
}

impl Tally {
    pub fn new(open_loop: bool) -> Self {
        Tally {
            from_schedule: open_loop.then(new_histogram),
            taken: 0,
            sent: 0,
            late: 0,
            late_idle: 0,
            completed: 0,
            statuses: vec![0; 1000],
            errors: [0; ErrorKind::ALL.len()],
            first_errors: Default::default(),
            received: 0,
            reconnects: 0,
            in_flight: 0,
            latency: new_histogram(),
        }
    }

    /// Counts an error, keeping the words of the first one of its kind.
    fn error(&mut self, kind: ErrorKind, words: impl FnOnce() -> String) {
        self.errors[kind.index()] += 1;
        self.first_errors[kind.index()].get_or_insert_with(words);
    }
}

/// A latency histogram in microseconds: 1 µs to 1 hour at 3 significant digits, about
/// 180 KiB, allocated once.
pub(super) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Runs connection `index` until the bench is over and returns what it saw. The result of
/// its first connect goes to `ready` before it waits at the start gate.
pub(super) fn run_connection(
    index: usize,
    plan: &Plan<'_>,
    shared: &Shared,
    ready: Sender<io::Result<()>>,
) -> Tally {
    let mut tally = Tally::new(plan.schedule.is_some());
    let mut reader = ResponseReader::new();
    let mut stream = match connect(plan) {
        Ok(stream) => {
            let _ = ready.send(Ok(()));
            Some(stream)
        }
        Err(e) => {
            tally.error(ErrorKind::Connect, || e.to_string());
            let _ = ready.send(Err(e));
            None
        }
    };
    drop(ready);
    let Some(start) = shared.gate.wait() else { return tally };
    let end = plan.duration.map(|d| start + d);
    let over = |now: Instant| end.is_some_and(|end| now >= end);
    let mut nth = 0;
    // When this connection last finished a request (answered or failed): a send that is late
    // although this came before its scheduled time was delayed by the generator itself.
    let mut idle_since = start;
    loop {
        let due = plan.schedule.map(|s| s.due(start, index, nth));
        if let Some(due) = due {
            nth += 1;
            // A request due after the end is not part of this bench.
            if over(due) {
                break;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if over(Instant::now()) {
            break;
        }
        if plan.requests.is_some_and(|n| shared.tickets.fetch_add(1, Relaxed) >= n) {
            break;
        }
        if due.is_some() {
            tally.taken += 1;
        }
        let conn = match stream {
            Some(ref conn) => conn,
            None => match connect(plan) {
                Ok(conn) => {
                    tally.reconnects += 1;
                    reader.reset();
                    stream.insert(conn)
                }
                Err(e) => {
                    tally.error(ErrorKind::Connect, || e.to_string());
                    std::thread::sleep(CONNECT_BACKOFF);
                    idle_since = Instant::now();
                    continue;
                }
            },
        };
        // Latency runs from the request's first byte to the response's last, as wrk measures
        // it: opening the connection is not part of it.
        let sent = Instant::now();
        if let Some(due) = due {
            tally.sent += 1;
            if sent > due + LATE {
                tally.late += 1;
                tally.late_idle += u64::from(idle_since <= due);
            }
        }
        let outcome = match (&*conn).write_all(plan.request) {
            Err(e) => Err(ReadError::Io(e)),
            Ok(()) => {
                let mut timed = Timed { stream: conn, give_up: sent + plan.timeout, end };
                reader.read_response(&mut timed, plan.head_request)
            }
        };
        let done = Instant::now();
        idle_since = done;
        // A response that was not complete when the time was up does not count as completed,
        // however it ended: it was in flight.
        if over(done) {
            tally.in_flight += 1;
            break;
        }
        match outcome {
            Ok(response) => {
                tally.completed += 1;
                tally.statuses[usize::from(response.status).min(999)] += 1;
                tally.latency.saturating_record((done - sent).as_micros() as u64);
                if let (Some(due), Some(histogram)) = (due, &mut tally.from_schedule) {
                    histogram.saturating_record((done - due).as_micros() as u64);
                }
                shared.completed[index].0.store(tally.completed, Relaxed);
                if !(response.keep_alive && plan.keep_alive) {
                    stream = None;
                }
            }
            Err(e) => {
                let kind = error_kind(&e);
                tally.error(kind, || match kind {
                    ErrorKind::Timeout => format!("no complete response within {:?}", plan.timeout),
                    _ => e.to_string(),
                });
                // After an error the connection is in an unknown state: start afresh.
                stream = None;
            }
        }
    }
    tally.received = reader.received;
    tally
}

/// Opens a connection with the socket options the loop relies on.
fn connect(plan: &Plan<'_>) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&plan.addr, plan.timeout)?;
    // The request goes out in one write, so Nagle would only ever delay it.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TICK.min(plan.timeout)))?;
    stream.set_write_timeout(Some(plan.timeout))?;
    Ok(stream)
}

fn error_kind(e: &ReadError) -> ErrorKind {
    match e {
        ReadError::Io(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
            ErrorKind::Timeout
        }
        ReadError::Io(_) | ReadError::Closed => ErrorKind::Reset,
        ReadError::Malformed(_) => ErrorKind::Malformed,
    }
}

/// The socket, seen through the request's deadline and the bench's end. The socket's own
/// read timeout is one [`TICK`]; each time it fires this looks at the clock and either reads
/// on or gives up with `TimedOut`.
struct Timed<'a> {
    stream: &'a TcpStream,
    /// The per-request timeout.
    give_up: Instant,
    /// The end of the bench, in duration mode.
    end: Option<Instant>,
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    let now = Instant::now();
                    if now >= self.give_up || self.end.is_some_and(|end| now >= end) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                other => return other,
            }
        }
    }
}
