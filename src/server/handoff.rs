//! The `handoff` pool engine, waitress's design: one thread, the poller, waits on epoll; each
//! connection that becomes readable is handed to the [`ThreadPool`], and one of its workers
//! serves the turn. The workers never wait on a socket, only on the pool's queue: so each
//! request costs two wake-ups, the poller's and then a worker's.

use super::pool::{Pool, Ready};
use super::serving::Serving;
use crate::pool::{ThreadPool, current_worker};
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// What the poller gives each job: the pool, and the workers' lines in the live view.
struct Shared {
    pool: Pool,
    cells: Vec<Arc<Mutex<WorkerState>>>,
}

/// Serves in pool mode with a poller thread and `threads` workers until shutdown.
pub(super) fn serve(
    serving: Serving,
    threads: NonZeroUsize,
    listener: Arc<TcpListener>,
    shutdown: &ShutdownHandle,
) -> io::Result<()> {
    let cells = serving.stats.add_workers(threads.get());
    // Only this engine has a queue to count: the live view shows it.
    serving.stats.counts_queue();
    let pool = Pool::new(serving, listener, shutdown)?;
    let shared = Arc::new(Shared { pool, cells });
    // Dropped on any early return below, which joins the workers (they are idle).
    let workers = ThreadPool::new(threads);
    let mut events = Vec::with_capacity(1024);
    'serving: loop {
        shared.pool.wait(&mut events)?;
        for event in &events {
            match shared.pool.ready(event) {
                Ready::Serve(token, channel) => {
                    let shared = shared.clone();
                    shared.pool.serving.stats.queued(1);
                    workers.execute(move || {
                        shared.pool.serving.stats.queued(-1);
                        // A job does not know which worker runs it; the worker's thread does.
                        let worker = current_worker().unwrap_or(0);
                        shared.pool.serve(token, channel, &shared.cells[worker]);
                    });
                }
                Ready::Accept => shared.pool.accept(),
                Ready::Sweep => shared.pool.sweep(),
                Ready::Shutdown => break 'serving,
                Ready::Nothing => {}
            }
        }
    }
    shared.pool.finish(workers);
    Ok(())
}
