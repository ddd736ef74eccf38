//! Threaded mode, the default: a thread per request, with no upper bound, as Werkzeug's
//! `threaded=True` (Flask's `app.run` and `flask run` default since Flask 1.0).
//!
//! Werkzeug's threaded server starts a thread per accepted connection and answers that
//! connection's requests on it, one after another. tiny_http hands the serving loop requests,
//! not connections, so the loop starts a thread per request it receives, unless a request of
//! the same connection is still being answered: then the new one waits behind it, and the
//! thread already there answers it next. Requests pipelined on one connection so reach the app
//! one at a time and in order, as on Werkzeug; requests of different connections run at once.
//!
//! Nothing limits the number of threads: a hundred stalled clients hold a hundred threads, and
//! tiny_http keeps a thread of its own for each open connection besides. That is Werkzeug's
//! design too, and why neither is a production server (the production server's pool has a
//! fixed number of workers, and idle connections hold none).

use super::handler::Handler;
use crate::sync::lock;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The request threads of one `serve_forever`.
pub(super) struct RequestThreads {
    handler: Arc<Handler>,
    busy: Arc<Busy>,
}

/// The connections that have a thread answering them, shared by the serving loop (which adds
/// them) and the request threads (which remove their own when nothing waits behind it).
#[derive(Default)]
struct Busy {
    /// Each busy connection, by the client's address (which names one open TCP connection),
    /// with the requests waiting behind the one being answered.
    waiting: Mutex<HashMap<SocketAddr, VecDeque<tiny_http::Request>>>,
    /// Notified when a connection's thread ends, for [`RequestThreads::drain`].
    ended: Condvar,
}

impl Busy {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, VecDeque<tiny_http::Request>>> {
        // A request thread never panics while holding the lock; if one did, the map is whole.
        lock(&self.waiting)
    }
}

impl RequestThreads {
    pub fn new(handler: Arc<Handler>) -> Self {
        RequestThreads { handler, busy: Arc::default() }
    }

    /// Answers `request` on a new thread, or queues it behind the request of its connection
    /// that a thread is answering now. Called by the serving loop only, so nothing adds to the
    /// map between the check and the insert below.
    pub fn dispatch(&self, request: tiny_http::Request) {
        if super::request::declares_too_much(&request) {
            // Forgotten unanswered at once (see the module docs of `crate::dev`): no thread
            // needed, and none whose failure to start would drop it.
            return self.handler.handle_request(request);
        }
        let peer = request.remote_addr().copied().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        {
            let mut busy = self.busy.lock();
            if let Some(queue) = busy.get_mut(&peer) {
                queue.push_back(request);
                return;
            }
            busy.insert(peer, VecDeque::new());
        }
        let (handler, busy) = (self.handler.clone(), self.busy.clone());
        let thread = std::thread::Builder::new().name("dev-request".into()).spawn(move || {
            let mut next = Some(request);
            while let Some(request) = next {
                // The handler catches the app's panics; this catches a bug of ours, so that the
                // connection's entry is always removed below and `drain` cannot wait for it.
                if catch_unwind(AssertUnwindSafe(|| handler.handle_request(request))).is_err() {
                    handler.error("?", "the dev server's request thread panicked");
                }
                let mut waiting = busy.lock();
                next = waiting.get_mut(&peer).and_then(VecDeque::pop_front);
                if next.is_none() {
                    waiting.remove(&peer);
                    busy.ended.notify_all();
                }
            }
        });
        if let Err(e) = thread {
            // The request went down with the closure: tiny_http answers a dropped request 500.
            self.busy.lock().remove(&peer);
            self.handler.error("?", &format!("could not start a thread for a request ({e}); answered 500"));
        }
    }

    /// Waits until no request is being answered, or `within` has passed; returns how many
    /// connections still had a thread at the end (those threads finish on their own).
    pub fn drain(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut busy = self.busy.lock();
        while !busy.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            busy = self.busy.ended.wait_timeout(busy, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        busy.len()
    }
}
