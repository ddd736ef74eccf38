//! Stopping a server: the shutdown handle, and Ctrl+C wired to every server that is serving.

use crate::sync::lock;
use rustix::event::{EventfdFlags, eventfd};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Stops a running `serve_forever`, from any thread. Cloning gives another handle to the same
/// server.
///
/// ```
/// use wsgi_lab::{make_server, Body, Environ, StartResponse};
/// let app = |_: &Environ, sr: StartResponse| { sr("200 OK", vec![]); Body::empty() };
/// let server = make_server("127.0.0.1", 0, app)?.log_requests(false).ctrl_c(false);
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// handle.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), wsgi_lab::Error>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle(Arc<ShutdownState>);

struct ShutdownState {
    stop: AtomicBool,
    /// With `stopped`, lets a thread sleep until shutdown is asked for ([`ShutdownHandle::wait`]).
    lock: Mutex<()>,
    stopped: Condvar,
    /// The server's listening socket, shared with the server so that any thread can stop it
    /// listening, even while the serving thread is busy inside an app.
    listener: Arc<TcpListener>,
    /// An eventfd that pool mode's epoll watches: written once, at shutdown, and never read, so
    /// that every thread waiting in epoll sees it.
    waker: OwnedFd,
}

impl ShutdownHandle {
    /// A handle for the server listening on `listener`.
    pub(crate) fn new(listener: Arc<TcpListener>) -> std::io::Result<Self> {
        Ok(ShutdownHandle(Arc::new(ShutdownState {
            stop: AtomicBool::new(false),
            lock: Mutex::new(()),
            stopped: Condvar::new(),
            listener,
            waker: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
        })))
    }

    /// Asks the server to stop. It returns at once; `serve_forever` returns when the server
    /// has finished what was in flight. A server that was shut down stays shut down.
    ///
    /// The listening socket stops listening here, at once (SPEC §6): a client that connects
    /// from now on is refused, instead of waiting in the OS's queue for an accept that will
    /// never come. On Linux, `shutdown(2)` on a listening socket does that, and also resets the
    /// connections still queued; the socket itself is closed when the server is dropped.
    pub fn shutdown(&self) {
        // The flag first: a serving thread that finds the socket shut down knows why.
        self.0.stop.store(true, Ordering::SeqCst);
        let _ = rustix::net::shutdown(&*self.0.listener, rustix::net::Shutdown::Read);
        let _ = rustix::io::write(&self.0.waker, &1u64.to_ne_bytes());
        // Taking the lock orders this notification after any `wait` that checked the flag.
        drop(lock(&self.0.lock));
        self.0.stopped.notify_all();
    }

    /// Blocks until shutdown is asked for or `timeout` has passed; says whether it was asked for.
    pub(crate) fn wait_for(&self, timeout: Duration) -> bool {
        let guard = lock(&self.0.lock);
        // A poisoned wait still waited: the flag is what counts.
        let _ = self.0.stopped.wait_timeout_while(guard, timeout, |_| !self.is_requested());
        self.is_requested()
    }

    /// The eventfd written at shutdown, for epoll to watch.
    pub(crate) fn waker(&self) -> &OwnedFd {
        &self.0.waker
    }

    /// Whether shutdown was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.stop.load(Ordering::SeqCst)
    }
}

/// Ctrl+C, wired once per process to every server that is serving.
pub(crate) mod ctrl_c {
    use super::ShutdownHandle;
    use crate::sync::lock;
    use std::sync::{Arc, Mutex, Once};

    static SERVING: Mutex<Vec<ShutdownHandle>> = Mutex::new(Vec::new());
    static INSTALL: Once = Once::new();

    /// Registers a server until the guard is dropped.
    pub fn register(handle: &ShutdownHandle) -> Guard {
        INSTALL.call_once(|| {
            // A second Ctrl+C while shutting down means "now": exit at once.
            let _ = ctrlc::set_handler(|| {
                let serving = lock(&SERVING);
                if serving.iter().any(|h| h.is_requested()) {
                    std::process::exit(130);
                }
                eprintln!("\nShutting down (Ctrl+C again to quit at once)...");
                serving.iter().for_each(ShutdownHandle::shutdown);
            });
        });
        lock(&SERVING).push(handle.clone());
        Guard(handle.clone())
    }

    pub struct Guard(ShutdownHandle);

    impl Drop for Guard {
        fn drop(&mut self) {
            lock(&SERVING).retain(|h| !Arc::ptr_eq(&h.0, &self.0.0));
        }
    }
}
