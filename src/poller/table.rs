//! The table of connections that the poller and the workers share: one slot per connection,
//! and what the poller must know about deadlines.

use crate::channel::Conn;
use std::time::Instant;

/// Where a connection is: each slot of the table is in exactly one of these states.
pub(super) enum Slot {
    Free,
    Parked(Conn),
    /// The poller or a worker has it. `pending`: the socket became readable meanwhile, so
    /// whoever puts it back must look at it first (epoll will not say so again).
    Taken {
        pending: bool,
    },
    Draining(Conn),
}

/// The connection table, shared by the poller and the workers.
pub(super) struct Table {
    pub slots: Vec<Slot>,
    pub free: Vec<usize>,
    pub open: usize,
    /// No deadline falls before this; `None` when nothing waits.
    pub next_sweep: Option<Instant>,
    /// Set at shutdown: workers close connections instead of parking them.
    pub closing: bool,
    /// When the poller's current wait ends by itself (`None`: only an event ends it).
    pub poller_wakes_at: Option<Instant>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_sweep: None,
            closing: false,
            poller_wakes_at: None,
        }
    }

    /// Notes a deadline. Returns whether it falls before the poller's current wait ends: then
    /// a worker must wake the poller, or the deadline would pass unnoticed.
    pub fn remind(&mut self, deadline: Instant) -> bool {
        self.next_sweep = Some(self.next_sweep.map_or(deadline, |t| t.min(deadline)));
        self.poller_wakes_at.is_none_or(|t| deadline < t)
    }

    pub fn free(&mut self, token: usize) {
        self.slots[token] = Slot::Free;
        self.free.push(token);
        self.open -= 1;
    }

    pub fn taken(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s, Slot::Taken { .. })).count()
    }
}
