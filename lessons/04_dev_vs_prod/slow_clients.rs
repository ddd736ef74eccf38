//! Lesson 4's slow clients: half a request head, and a body that never arrives beside a normal
//! request; and the dev server's request threads, counted while they wait.

use super::DECLARED;
use super::common;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Sends half a request head (no blank line after it) and waits up to `hold` for the server to
/// answer or close. Returns the status the server sent, if any, and when the connection ended;
/// `None` as the time means it was still open at `hold`, and the client closed it.
pub fn half_head(addr: SocketAddr, hold: Duration) -> (Option<u16>, Option<Duration>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let started = Instant::now();
    let _ = stream.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").as_bytes());
    let _ = stream.set_read_timeout(Some(hold));
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // A reset also ends the connection: what matters is that the server ended it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(_) => return (None, None), // still open at `hold`: dropping the stream closes it
        }
    }
    let status = common::status(&String::from_utf8_lossy(&answer));
    ((status != 0).then_some(status), Some(started.elapsed()))
}

/// Declares a body of [`DECLARED`] bytes and sends 3 of them; `lead` later, times a `GET /` from
/// another client. The slow client gives up after `hold`. Returns the status, how long the
/// `GET /` took, and how many dev request threads were running as it was sent.
pub fn stuck_body(addr: SocketAddr, hold: Duration, lead: Duration) -> (u16, Duration, usize) {
    let mut slow = TcpStream::connect(addr).expect("connect");
    let _ = slow.write_all(
        format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {DECLARED}\r\n\r\nabc").as_bytes(),
    );
    // The slow client goes away after `hold`, whatever happens: that bounds the demonstration.
    let giving_up = std::thread::spawn(move || {
        std::thread::sleep(hold);
        drop(slow);
    });
    std::thread::sleep(lead);
    let threads = request_threads();
    let (response, took) = common::timed(|| common::get(addr, "/"));
    let _ = giving_up.join();
    (common::status(&response), took, threads)
}

/// How many of this process's threads are the dev server's request threads (named
/// `dev-request`): read from `/proc/self/task/*/comm`, as `ps -L` shows them.
pub fn request_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "dev-request")
        .count()
}
