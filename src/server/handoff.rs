//! The `handoff` pool engine, waitress's design: one thread, the poller, waits on epoll; each
//! connection that becomes readable is handed to the [`ThreadPool`], and one of its workers
//! serves the turn. The workers never wait on a socket, only on the pool's queue: so each
//! request costs two wake-ups, the poller's and then a worker's.

use super::pool::Pool;
use super::serving::Serving;
use crate::pool::ThreadPool;
use crate::shutdown::ShutdownHandle;
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// Serves in pool mode with a poller thread and `threads` workers until shutdown.
pub(super) fn serve(
    serving: Serving,
    threads: NonZeroUsize,
    listener: Arc<TcpListener>,
    shutdown: &ShutdownHandle,
) -> io::Result<()> {
    // Only this engine has a queue to count: the live view shows it.
    serving.stats.counts_queue();
    let pool = Arc::new(Pool::new(serving, threads, listener, shutdown)?);
    // Dropped on any early return below, which joins the workers (they are idle).
    let workers = ThreadPool::new(threads);
    let mut events = Vec::with_capacity(1024);
    let serve = |token, channel| {
        let pool = pool.clone();
        pool.serving.stats.queued(1);
        workers.execute(move || {
            pool.serving.stats.queued(-1);
            pool.serve(token, channel);
        });
    };
    // Until the shutdown event.
    while pool.poll(&mut events, None, serve)? {}
    pool.finish(workers);
    Ok(())
}
