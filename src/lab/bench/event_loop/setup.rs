//! Before the clock starts: a thread opens all its connections at once, non-blocking, and
//! waits (up to the timeout) for the connects to end, so that setting up a thousand
//! connections is not part of the measured time. A connection that could not be opened is
//! counted as a connect error and tried again when the bench runs; only when no thread
//! opened any does the bench refuse to run.

use super::Driver;
use crate::lab::bench::ErrorKind;
use crate::lab::bench::connection::Phase;
use rustix::event::epoll::EventFlags;
use std::io;
use std::time::Instant;

/// What a thread found when it opened its connections, before the clock started.
pub(in crate::lab::bench) struct Opened {
    pub opened: usize,
    pub first_error: Option<io::Error>,
}

impl Driver<'_> {
    /// Opens every connection at once and waits (up to the timeout) for the connects to end.
    pub(super) fn open_all(&mut self) -> Opened {
        let now = Instant::now();
        let give_up = now + self.plan.timeout;
        let mut first_error = None;
        for slot in 0..self.conns.len() {
            match self.conns[slot].open(self.plan.addr, &self.epoll, slot) {
                Ok(true) => self.conns[slot].phase = Phase::Idle,
                Ok(false) => self.conns[slot].phase = Phase::Connecting,
                Err(e) => self.setup_failed(slot, e, &mut first_error),
            }
        }
        while self.conns.iter().any(|c| c.phase == Phase::Connecting) {
            let now = Instant::now();
            if now >= give_up {
                break;
            }
            self.wait(give_up - now, false);
            for i in 0..self.events.len() {
                let Some(slot) = self.slot_of(i) else { continue };
                let conn = &mut self.conns[slot];
                if conn.phase != Phase::Connecting {
                    continue;
                }
                // Connected, it waits for readable: a server closing it idle is then seen.
                match conn.connected().and_then(|()| conn.want(&self.epoll, slot, EventFlags::IN)) {
                    Ok(()) => conn.phase = Phase::Idle,
                    Err(e) => self.setup_failed(slot, e, &mut first_error),
                }
            }
        }
        for slot in 0..self.conns.len() {
            if self.conns[slot].phase == Phase::Connecting {
                self.setup_failed(slot, io::ErrorKind::TimedOut.into(), &mut first_error);
            }
        }
        let opened = self.conns.iter().filter(|c| c.socket.is_some()).count();
        Opened { opened, first_error }
    }

    /// A connect before the start failed: counted, and tried again when the bench runs.
    fn setup_failed(&mut self, slot: usize, e: io::Error, first_error: &mut Option<io::Error>) {
        self.tally.error(ErrorKind::Connect, || e.to_string());
        self.conns[slot].close();
        self.conns[slot].phase = Phase::Idle;
        first_error.get_or_insert(e);
    }
}
