//! The bench's event loops (`src/lab/bench/event_loop.rs`): what a non-blocking, many
//! connections per thread generator must still get right. A 404 or a response cut short is a
//! failure, never a success; a response larger than the thread's receive buffer and a request
//! larger than the socket's send buffer both go through whole; a silent server times out;
//! cancelling stops a run at once.
//!
//! Every server listens on 127.0.0.1 port 0, and every bench is bounded in requests or time.
//! (That many connections are driven by few threads is `tests/bench_threads.rs`, which must
//! have its process to itself to count threads.)

mod common;

use common::raw_server;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wsgi_lab::lab::bench::{BenchConfig, ErrorKind, Progress, Stop, run};

/// Reads one request head and returns its Content-Length (0 if none); `None` when the client
/// has gone. Reading the request before answering matters: closing a socket with unread bytes
/// sends a reset, which could destroy the answer before the client reads it.
fn read_request(stream: &mut TcpStream) -> Option<usize> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(length)
}

fn config(addr: SocketAddr, connections: usize, stop: Stop) -> BenchConfig {
    BenchConfig {
        connections,
        stop,
        timeout: Duration::from_secs(5),
        ..BenchConfig::new(format!("http://{addr}/"))
    }
}

#[test]
fn a_404_is_a_complete_response_but_never_a_success() {
    let addr = raw_server(|mut stream| {
        while read_request(&mut stream).is_some() {
            if stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found").is_err() {
                break;
            }
        }
    });
    let report = run(&BenchConfig { threads: 2, ..config(addr, 4, Stop::Requests(200)) }).unwrap();
    // Read whole and counted, by its status: a 2xx or 3xx count of zero is what compare and a
    // reader see, and the text says ERROR next to it.
    assert_eq!(report.completed, 200, "{report}");
    assert_eq!(report.statuses.len(), 1, "{report}");
    assert_eq!(report.statuses[&404], 200, "{report}");
    let successes: u64 =
        report.statuses.iter().filter(|(s, _)| (200..400).contains(*s)).map(|(_, n)| n).sum();
    assert_eq!(successes, 0);
    assert_eq!(report.total_errors(), 0, "a 404 is a response, not a transport error: {report}");
    assert_eq!(report.reconnects, 0, "a 404 with a length keeps the connection");
    assert!(report.to_string().contains("404 × 200 ERROR"), "{report}");
}

#[test]
fn a_response_cut_short_is_a_reset_and_never_a_success() {
    // The head promises 100 bytes; 7 come, then the server closes.
    let addr = raw_server(|mut stream| {
        if read_request(&mut stream).is_some() {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        }
    });
    let report = run(&BenchConfig { threads: 2, ..config(addr, 3, Stop::Requests(30)) }).unwrap();
    assert_eq!(report.completed, 0, "{report}");
    assert!(report.statuses.is_empty(), "no response was whole: {report}");
    assert_eq!(report.errors[&ErrorKind::Reset], 30, "{report}");
    assert!(report.latency.is_none());
    assert!(
        report.first_errors[&ErrorKind::Reset].contains("closed before the response was complete"),
        "{report}"
    );
    assert!(report.to_string().contains("reset 30 ERROR"), "{report}");
}

#[test]
fn a_response_larger_than_the_receive_buffer_is_read_whole() {
    // 300 KB by length: several reads into the thread's 64 KiB buffer per response.
    const BODY: usize = 300_000;
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n");
    let response = [head.as_bytes(), &vec![b'x'; BODY]].concat();
    let length = response.len() as u64;
    let addr = raw_server(move |mut stream| {
        while read_request(&mut stream).is_some() {
            if stream.write_all(&response).is_err() {
                break;
            }
        }
    });
    let report = run(&config(addr, 2, Stop::Requests(10))).unwrap();
    assert_eq!(report.completed, 10, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
    assert_eq!(report.bytes_received, 10 * length, "every byte of 10 responses, no more");
    assert_eq!(report.reconnects, 0);
}

#[test]
fn a_request_larger_than_the_send_buffer_goes_out_whole() {
    // 8 MiB of body: more than a loopback socket's send buffer, so the write stops part way
    // and the rest goes when epoll says the socket is writable again.
    const BODY: usize = 8 << 20;
    let addr = raw_server(|mut stream| {
        while let Some(length) = read_request(&mut stream) {
            let answer =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{length}", length.to_string().len());
            if stream.write_all(answer.as_bytes()).is_err() {
                break;
            }
        }
    });
    let config =
        BenchConfig { method: "POST".into(), body: vec![b'b'; BODY], ..config(addr, 1, Stop::Requests(3)) };
    let report = run(&config).unwrap();
    assert_eq!(report.completed, 3, "{report}");
    assert_eq!(report.statuses[&200], 3, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let addr = raw_server(|mut stream| while read_request(&mut stream).is_some() {});
    let started = Instant::now();
    let config = BenchConfig { timeout: Duration::from_millis(200), ..config(addr, 2, Stop::Requests(4)) };
    let report = run(&config).unwrap();
    assert_eq!(report.errors[&ErrorKind::Timeout], 4, "{report}");
    assert_eq!(report.completed, 0);
    assert!(
        report.first_errors[&ErrorKind::Timeout].contains("no complete response within 200ms"),
        "{report}"
    );
    // Two rounds of 200 ms on two connections; a generous bound, far below a hang.
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[test]
fn cancelling_stops_the_run_at_once() {
    let addr = raw_server(|mut stream| {
        while read_request(&mut stream).is_some() {
            if stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                break;
            }
        }
    });
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let config = BenchConfig {
        cancel: Some(cancel),
        // The callback runs on the caller's thread about ten times a second: cancel at 300 ms.
        progress: Progress::Callback(Arc::new(move |tick| {
            if tick.elapsed >= Duration::from_millis(300) {
                flag.store(true, Ordering::Relaxed);
            }
        })),
        ..config(addr, 4, Stop::Duration(Duration::from_secs(30)))
    };
    let started = Instant::now();
    let report = run(&config).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a 30 s run cancelled at 0.3 s: {:?}",
        started.elapsed()
    );
    assert!(report.duration < Duration::from_secs(5), "{report}");
    assert!(report.completed > 0, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
}

#[test]
fn bad_thread_counts_are_refused() {
    let url = "http://127.0.0.1:9/";
    for threads in [0, 100_000] {
        let error = run(&BenchConfig { threads, ..BenchConfig::new(url) }).unwrap_err().to_string();
        assert!(error.contains("threads must be between 1 and"), "{error}");
    }
}
