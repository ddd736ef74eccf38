//! Single-threaded mode, as wsgiref's `simple_server`: one thread accepts a connection, reads
//! its request, runs the app, writes the response and closes, then accepts the next. A slow
//! request delays everyone: that is what this mode is for showing.

use super::channel::{After, Channel};
use super::serving::Serving;
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use rustix::event::{PollFd, PollFlags};
use rustix::time::Timespec;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Accepts and answers connections one at a time until shutdown, or until `count` connections
/// were answered (`handle_request` answers one). The accept blocks: shutdown stops the socket
/// listening, which ends a blocked accept at once with an error.
pub(super) fn serve(
    serving: &Serving,
    listener: &TcpListener,
    shutdown: &ShutdownHandle,
    mut count: Option<usize>,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let worker = serving.stats.add_workers(1).remove(0);
    while count != Some(0) && !shutdown.is_requested() {
        match listener.accept() {
            Ok((stream, peer)) => {
                serving.stats.connection(1);
                answer_one(serving, stream, peer, &worker);
                serving.stats.connection(-1);
                count = count.map(|n| n - 1);
            }
            // The shutdown handle stopped the socket listening: not a failure.
            Err(_) if shutdown.is_requested() => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Out of file descriptors, say: pause rather than spin.
                serving.log.info(&format!("accept failed: {e}; pausing 100 ms"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(())
}

/// Single-threaded mode's connection, served to its end on the calling thread: the same
/// [`Channel`] as in pool mode, with the same rules, but its waits are spent blocked on its
/// one socket rather than in epoll. It closes after one response: this mode does not keep
/// connections alive (`Serving::keep_alive`).
fn answer_one(serving: &Serving, stream: TcpStream, peer: SocketAddr, worker: &Mutex<WorkerState>) {
    let Ok(mut channel) = Channel::new(stream, peer, serving) else { return };
    // `Requeue` (more to read now, or a refused request's input to drain): another turn at once.
    // `Wait`: a turn when bytes arrive, or the channel's deadline rule when its wait runs out.
    let mut after = After::Requeue;
    while after != After::Close {
        after = if after == After::Requeue || readable(&channel) {
            channel.handle_read(serving, worker)
        } else {
            channel.expire(serving)
        };
    }
}

/// Waits until bytes arrive on the channel's socket (true), or its deadline passes (false).
fn readable(channel: &Channel) -> bool {
    loop {
        let left = channel.deadline().saturating_duration_since(Instant::now());
        // rustix's conversion; a wait too long for it is a wait without end.
        let timeout = Timespec::try_from(left).ok();
        match rustix::event::poll(&mut [PollFd::new(channel.socket(), PollFlags::IN)], timeout.as_ref()) {
            // A signal ended the wait early: wait again, for what is left.
            Err(rustix::io::Errno::INTR) => continue,
            result => return result.is_ok_and(|ready| ready > 0),
        }
    }
}
