//! The `shared` pool engine: no poller thread and no queue. The workers themselves wait on
//! the one epoll instance; each connection is registered one-shot, so a readable connection
//! wakes exactly one worker, which reads, runs the app, writes, and re-arms it. One wake-up per
//! request. (Linux wakes one waiter per event: `epoll_wait` waits exclusively.)

use super::pool::{Pool, Ready};
use super::serving::Serving;
use crate::pool::ThreadPool;
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// Serves in pool mode with `threads` workers waiting on epoll until shutdown. The calling
/// thread only waits for the shutdown.
pub(super) fn serve(
    serving: Serving,
    threads: NonZeroUsize,
    listener: Arc<TcpListener>,
    shutdown: &ShutdownHandle,
) -> io::Result<()> {
    let cells = serving.stats.add_workers(threads.get());
    let pool = Arc::new(Pool::new(serving, listener, shutdown)?);
    let workers = ThreadPool::new(threads);
    for cell in cells {
        let pool = pool.clone();
        workers.execute(move || work(&pool, &cell));
    }
    shutdown.wait();
    pool.finish(workers);
    Ok(())
}

/// One worker: wait, then do what the event asks, until shutdown.
fn work(pool: &Pool, cell: &Mutex<WorkerState>) {
    // One event at a time: the others stay in epoll for the workers that are free.
    let mut events = Vec::with_capacity(1);
    loop {
        if let Err(e) = pool.wait(&mut events) {
            pool.serving.log.info(&format!("a worker stopped: waiting on epoll failed: {e}"));
            return;
        }
        for event in &events {
            match pool.ready(event) {
                Ready::Serve(token, channel) => pool.serve(token, channel, cell),
                Ready::Accept => pool.accept(),
                Ready::Sweep => pool.sweep(),
                Ready::Shutdown => return,
                Ready::Nothing => {}
            }
        }
    }
}
