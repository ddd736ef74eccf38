//! The queue between a [`ThreadPool`](super::ThreadPool) and its workers: a job goes in at one
//! end ([`Queue::send`]), and the first free worker takes the one at the other
//! ([`Queue::recv`]), first in, first out. Once closed, the workers take the jobs left, then
//! `recv` returns `None`, as an `mpsc` receiver does once its senders are gone.
//!
//! **Why not the Book's channel.** The Book shares one `mpsc::Receiver` between the workers
//! behind a `Mutex`: one idle worker holds the lock and waits in `recv`, the others wait in line
//! for the lock. So each job wakes two workers: the one in `recv`, which takes it, and, as that
//! one lets go of the lock, the next in line, which only takes its place in `recv` and sleeps
//! again. Here every idle worker waits on one condition variable, and a job wakes one of them.
//! This is waitress's queue (`ThreadedTaskDispatcher` in `waitress/task.py`: a deque and the
//! condition `queue_cv`). Lesson 11 counts the wake-ups of both, and the README's "Measured"
//! what the second one cost the handoff engine.

use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};

pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

pub(super) struct Queue {
    state: Mutex<State>,
    /// Notified when a job comes in, and when the queue closes.
    changed: Condvar,
}

struct State {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Queue {
    pub fn new() -> Queue {
        Queue { state: Mutex::new(State { jobs: VecDeque::new(), closed: false }), changed: Condvar::new() }
    }

    /// Queues a job and wakes one idle worker, if one is waiting.
    pub fn send(&self, job: Job) {
        lock(&self.state).jobs.push_back(job);
        // Notified after the lock is released (the statement above ends it), so the worker
        // woken does not find it still held and wait again.
        self.changed.notify_one();
    }

    /// Takes the next job, waiting while there is none; `None` once the queue is closed and
    /// empty.
    pub fn recv(&self) -> Option<Job> {
        let waiting = |state: &mut State| state.jobs.is_empty() && !state.closed;
        let state = self.changed.wait_while(lock(&self.state), waiting);
        state.unwrap_or_else(PoisonError::into_inner).jobs.pop_front()
    }

    /// Takes no more jobs, and wakes every idle worker to find the queue closed.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.changed.notify_all();
    }
}
