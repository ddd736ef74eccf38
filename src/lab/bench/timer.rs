//! The open loop's clock, one per thread: the connections waiting for their next request's
//! time, earliest first, and a `timerfd` in the thread's epoll set for the earliest of them.
//!
//! Why a timerfd and not epoll's own timeout: `epoll_wait` counts whole milliseconds (rounded
//! up), and a send more than 1 ms after its time counts as late, so a loop woken by its
//! timeout alone would call its own sends late. A timerfd is set in nanoseconds, and wakes the
//! loop through the same `epoll_wait` as the sockets do. wrk2 keeps its schedule the same way,
//! with a timer per thread in its event loop.

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// The connections waiting for their time, and the timer that wakes the loop for the first.
pub(super) struct Timer {
    timerfd: OwnedFd,
    /// When the timer is set to go off, if it is set.
    armed: Option<Instant>,
    /// (due time, connection slot), earliest first. Its capacity is one entry per connection
    /// (a connection waits for one time at most), reserved at the start: no allocation later.
    waiting: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Timer {
    /// A timer for up to `connections` waiting connections, registered in `epoll` with `data`.
    pub fn new(epoll: impl AsFd, data: u64, connections: usize) -> io::Result<Self> {
        let flags = TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC;
        let timerfd = rustix::time::timerfd_create(TimerfdClockId::Monotonic, flags)?;
        epoll::add(epoll, &timerfd, EventData::new_u64(data), EventFlags::IN)?;
        Ok(Timer { timerfd, armed: None, waiting: BinaryHeap::with_capacity(connections) })
    }

    /// Connection `slot` waits until `due`.
    pub fn wait_until(&mut self, due: Instant, slot: usize) {
        self.waiting.push(Reverse((due, slot)));
    }

    /// The next connection whose time has come by `now`, taken off the list.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let &Reverse((due, slot)) = self.waiting.peek()?;
        (due <= now).then(|| {
            self.waiting.pop();
            slot
        })
    }

    /// The timer went off: read it, so that level-triggered epoll stops reporting it.
    pub fn fired(&mut self) {
        let _ = rustix::io::read(&self.timerfd, &mut [0u8; 8]);
        self.armed = None;
    }

    /// Sets the timer for the earliest waiting connection (or disarms it when none waits),
    /// unless it is set for that time already: one system call only when the earliest changes.
    pub fn arm(&mut self, now: Instant) {
        let earliest = self.waiting.peek().map(|Reverse((due, _))| *due);
        if earliest == self.armed {
            return;
        }
        // A zero value disarms a timer: one nanosecond stands for "now".
        let wait = earliest
            .map_or(Duration::ZERO, |due| due.saturating_duration_since(now).max(Duration::from_nanos(1)));
        let spec = Itimerspec {
            it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: wait.subsec_nanos().into() },
        };
        if rustix::time::timerfd_settime(&self.timerfd, TimerfdTimerFlags::empty(), &spec).is_ok() {
            self.armed = earliest;
        }
    }
}
