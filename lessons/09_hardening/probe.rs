//! Lesson 9's probe: hostile bytes on a fresh connection, and what came back within a bounded
//! wait (the statuses, and whether the server closed the connection).

use super::common;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What one connection got back within a bounded wait.
pub struct Outcome {
    pub answer: Vec<u8>,
    /// Whether the server closed the connection (EOF or reset) before the wait was over.
    pub closed: bool,
    /// Until the close, or the whole wait when it stayed open.
    pub took: Duration,
}

impl Outcome {
    /// `400, 200` / `nothing`: the status of each response received, in order.
    pub fn statuses(&self) -> String {
        let statuses = statuses(&self.answer);
        if statuses.is_empty() {
            "nothing".to_string()
        } else {
            statuses.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        }
    }

    pub fn first_status(&self) -> u16 {
        statuses(&self.answer).first().copied().unwrap_or(0)
    }

    pub fn connection(&self) -> String {
        if self.closed {
            format!("closed by the server after {}", common::secs(self.took))
        } else {
            format!("still open after {} (we stopped waiting)", common::secs(self.took))
        }
    }
}

/// Sends `bytes` on a new connection and reads until the server closes it or `wait` is over.
pub fn probe(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Outcome {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let started = Instant::now();
    stream.write_all(bytes).expect("send the probe");
    read_until_close(&mut stream, started, wait)
}

pub fn read_until_close(stream: &mut TcpStream, started: Instant, wait: Duration) -> Outcome {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = wait.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Outcome { answer, closed: false, took: started.elapsed() };
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Outcome { answer, closed: true, took: started.elapsed() },
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Outcome { answer, closed: true, took: started.elapsed() },
        }
    }
}

/// The status codes of the responses in `bytes`, each framed by its Content-Length (both
/// servers send one with every response here).
pub fn statuses(mut bytes: &[u8]) -> Vec<u16> {
    let mut found = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).to_string();
        found.push(common::status(&head));
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        bytes = &bytes[(end + 4 + length).min(bytes.len())..];
    }
    found
}
