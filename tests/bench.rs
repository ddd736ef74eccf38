//! The load generator (`wsgi_lab::lab::bench`) against an in-process wsgi-lab server and
//! against tiny raw servers written here, each misbehaving in one way: answering without a
//! length, serving only K connections, sending garbage.
//!
//! Everything listens on 127.0.0.1 port 0 and every bench is bounded in requests or in time.

mod common;

use common::raw_server;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wsgi_lab::lab::bench::{BenchConfig, BenchError, ErrorKind, Progress, Stop, run, run_open_loop};
use wsgi_lab::{App, Mode, Options, Running, Server, apps};

/// A wsgi-lab server in pool mode on a free port, shut down when dropped; quiet, so its
/// shutdown lines do not land in `cargo test`'s output.
fn serve(app: impl App + 'static) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { threads: 4, quiet: true, ..Options::default() };
    Server::from_listener(listener, app, options, Mode::Pool).unwrap().spawn()
}

fn url(server: &Running, path: &str) -> String {
    format!("{}{path}", server.url())
}

/// The server counts a request once its worker has finished with it, which can be a moment
/// after the client has the response: wait (boundedly) for the count to reach `at_least`, then
/// return it.
fn served(server: &Running, at_least: u64) -> u64 {
    let give_up = Instant::now() + Duration::from_secs(3);
    while server.stats().served() < at_least && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stats().served()
}

/// Reads one request head (the bench sends no body here). False when the client has gone.
/// Reading it before answering matters: closing a socket with unread bytes sends a reset,
/// which could destroy the answer before the client reads it.
fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

fn config(url: String, connections: usize, stop: Stop) -> BenchConfig {
    BenchConfig { connections, stop, timeout: Duration::from_secs(5), ..BenchConfig::new(url) }
}

#[test]
fn count_mode_completes_exactly_n_and_the_server_agrees() {
    let server = serve(apps::hello);
    let report = run(&config(url(&server, "/"), 8, Stop::Requests(1000))).unwrap();
    assert_eq!(report.completed, 1000, "{report}");
    assert_eq!(report.statuses.get(&200), Some(&1000));
    assert_eq!(report.total_errors(), 0, "{report}");
    assert_eq!(report.in_flight, 0);
    assert_eq!(report.reconnects, 0, "keep-alive reuses each connection");
    assert_eq!(report.fairness.per_connection.len(), 8);
    assert_eq!(report.fairness.per_connection.iter().sum::<u64>(), 1000);
    assert!(report.bytes_received >= 1000 * "Hello, World!".len() as u64);
    let latency = report.latency.expect("latency of 1000 requests");
    assert!(
        latency.p50_ms <= latency.p90_ms
            && latency.p90_ms <= latency.p99_ms
            && latency.p99_ms <= latency.max_ms
    );
    assert_eq!(served(&server, 1000), 1000);
    let json = report.to_json();
    assert_eq!(json["completed"], 1000);
    assert_eq!(json["errors"]["malformed"], 0);
    assert!(report.to_string().contains("1000 completed"), "{report}");
}

#[test]
fn chunked_responses_are_read_to_their_last_chunk() {
    let server = serve(apps::stream);
    let path = "/?chunks=5&size=100";
    // One response as the server sends it on a keep-alive connection; a chunked body ends
    // with the zero chunk and an empty trailer.
    let mut raw = TcpStream::connect(server.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(raw, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut one = Vec::new();
    let mut buf = [0u8; 4096];
    while !one.ends_with(b"\r\n0\r\n\r\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed mid-response");
        one.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&one).to_ascii_lowercase().contains("transfer-encoding: chunked"));
    drop(raw);

    let report = run(&config(url(&server, path), 2, Stop::Requests(20))).unwrap();
    assert_eq!(report.completed, 20, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
    assert_eq!(report.bytes_received, 20 * one.len() as u64, "every byte of 20 responses, no more");
    assert_eq!(report.reconnects, 0);
}

#[test]
fn close_delimited_responses_are_read_to_the_end_and_the_connection_reopened() {
    let body = [b'x'; 1000];
    let response = [&b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"[..], &body].concat();
    let length = response.len() as u64;
    let addr = raw_server(move |mut stream| {
        if read_head(&mut stream) {
            let _ = stream.write_all(&response);
        }
    });
    let report = run(&config(format!("http://{addr}/"), 3, Stop::Requests(30))).unwrap();
    assert_eq!(report.completed, 30, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
    assert_eq!(report.bytes_received, 30 * length);
    // Every request after a connection's first needed a new connection.
    let active = report.fairness.per_connection.iter().filter(|&&n| n > 0).count() as u64;
    assert_eq!(report.reconnects, 30 - active);
}

#[test]
fn no_keep_alive_opens_a_connection_per_request() {
    let server = serve(apps::hello);
    let config = BenchConfig { no_keep_alive: true, ..config(url(&server, "/"), 2, Stop::Requests(50)) };
    let report = run(&config).unwrap();
    assert!(!report.keep_alive);
    assert_eq!(report.completed, 50, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
    let active = report.fairness.per_connection.iter().filter(|&&n| n > 0).count() as u64;
    assert_eq!(report.reconnects, 50 - active);
    assert_eq!(served(&server, 50), 50);
    assert_eq!(server.stats().snapshot().accepted, 50, "one connection per request");
}

#[test]
fn starved_connections_are_reported() {
    // K workers, each taking one connection and serving it forever; no more are accepted,
    // so the other connections wait in the listen backlog with their request unanswered.
    const K: usize = 2;
    const C: usize = 5;
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    for _ in 0..K {
        let listener = listener.clone();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            while read_head(&mut stream) {
                if stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                    break;
                }
            }
        });
    }
    let ticks = Arc::new(AtomicUsize::new(0));
    let counted = ticks.clone();
    let config = BenchConfig {
        progress: Progress::Callback(Arc::new(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        })),
        ..config(format!("http://{addr}/"), C, Stop::Duration(Duration::from_secs(1)))
    };
    let report = run(&config).unwrap();
    assert_eq!(report.fairness.starved, C - K, "{report}");
    assert_eq!(report.fairness.min, 0);
    assert!(report.fairness.max > 0);
    // Each starved connection's request is still waiting; a served one may be mid-request.
    assert!((C - K..=C).contains(&(report.in_flight as usize)), "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
    assert_eq!(report.duration, Duration::from_secs(1));
    assert!(report.to_string().contains("3 of 5 connections STARVED"), "{report}");
    assert_eq!(report.to_json()["fairness"]["starved"], 3);
    assert!(ticks.load(Ordering::Relaxed) >= 3, "the progress callback runs while the bench does");
}

#[test]
fn a_port_nobody_listens_on_is_a_connect_error() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // bound, then freed
    let error = run(&config(format!("http://{addr}/"), 2, Stop::Requests(10))).unwrap_err();
    assert!(matches!(error, BenchError::Connect { .. }), "{error:?}");
    assert!(error.to_string().starts_with(&format!("cannot connect to {addr}")), "{error}");
}

#[test]
fn malformed_responses_are_counted_as_malformed() {
    let addr = raw_server(|mut stream| {
        if read_head(&mut stream) {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n");
        }
    });
    let report = run(&config(format!("http://{addr}/"), 1, Stop::Requests(10))).unwrap();
    assert_eq!(report.completed, 0);
    assert_eq!(report.errors[&ErrorKind::Malformed], 10, "{report}");
    assert_eq!(report.first_errors[&ErrorKind::Malformed], "Content-Length is not a number");
    assert!(report.latency.is_none());
    let text = report.to_string();
    assert!(text.contains("malformed 10 ERROR") && text.contains("1 of 1 connections STARVED"), "{text}");
}

#[test]
fn bad_settings_are_refused_before_anything_is_sent() {
    let url = "http://127.0.0.1:9/".to_string();
    let cases = [
        (config(url.clone(), 0, Stop::Requests(1)), "connections must be between"),
        (config(url.clone(), 1, Stop::Requests(0)), "at least 1"),
        (BenchConfig { method: "GET /".into(), ..BenchConfig::new(url.clone()) }, "not an HTTP method"),
        (
            BenchConfig { headers: vec![("X".into(), "a\r\nb".into())], ..BenchConfig::new(url.clone()) },
            "header line",
        ),
        (BenchConfig::new("ftp://127.0.0.1/"), "only http://"),
        (BenchConfig { rate: Some(0.0), ..BenchConfig::new(url.clone()) }, "the rate must be between"),
        (BenchConfig { rate: Some(f64::NAN), ..BenchConfig::new(url.clone()) }, "the rate must be between"),
    ];
    for (config, words) in cases {
        let error = match config.rate {
            Some(_) => run_open_loop(&config).unwrap_err().to_string(),
            None => run(&config).unwrap_err().to_string(),
        };
        assert!(error.contains(words), "{error}");
    }
}

#[test]
fn a_rate_is_an_open_loop_and_run_says_so() {
    let config = BenchConfig { rate: Some(100.0), ..BenchConfig::new("http://127.0.0.1:9/") };
    let error = run(&config).unwrap_err().to_string();
    assert!(error.contains("call run_open_loop"), "{error}");
    let error = run_open_loop(&BenchConfig::new("http://127.0.0.1:9/")).unwrap_err().to_string();
    assert!(error.contains("needs a rate"), "{error}");
}

#[test]
fn open_loop_latency_from_the_schedule_counts_the_stalls() {
    // One keep-alive connection at 500 requests/s (one due every 2 ms) against a server that
    // answers at once but stalls 50 ms on every 200th request. From the send, the stalls are
    // 0.5 % of the requests, below the p99. From the schedule, each stall also delays the ~25
    // requests due during it, by 50, 48, 46... ms: several percent, well above the p99.
    let seen = Arc::new(AtomicUsize::new(0));
    let addr = raw_server(move |mut stream| {
        while read_head(&mut stream) {
            if seen.fetch_add(1, Ordering::Relaxed) % 200 == 199 {
                std::thread::sleep(Duration::from_millis(50));
            }
            if stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                break;
            }
        }
    });
    let config = BenchConfig {
        rate: Some(500.0),
        ..config(format!("http://{addr}/"), 1, Stop::Duration(Duration::from_millis(1200)))
    };
    let result = run_open_loop(&config).unwrap();
    let (report, open) = (&result.report, &result.open_loop);
    assert_eq!(report.total_errors(), 0, "{result}");
    assert_eq!(open.due, 600);
    assert!(report.completed >= 500, "{result}");
    let (schedule, send) = (open.from_schedule.unwrap(), open.from_send.unwrap());
    assert!(schedule.p99_ms >= 3.0 * send.p99_ms, "{result}");
    assert!(schedule.p99_ms >= 20.0, "{result}");
    assert!(send.max_ms >= 45.0, "the stalls themselves are measured from the send too: {result}");
    assert!(open.fell_behind() && open.late >= 20, "{result}");
    let text = result.to_string();
    assert!(text.contains("WARNING the generator fell behind its schedule"), "{text}");
    assert!(text.contains(&format!("{} of {} requests were sent late", open.late, open.sent)), "{text}");
    assert!(text.contains("(from the schedule) · "), "{text}");
    assert!(text.contains("≤ 50  "), "the histogram has a bucket for the stalls: {text}");
    let json = result.to_json();
    assert_eq!(json["open_loop"]["rate_asked"], 500.0);
    assert_eq!(json["open_loop"]["late"], open.late);
    assert_eq!(json["completed"], report.completed);
}

#[test]
fn open_loop_at_a_low_rate_keeps_its_schedule() {
    // A 2-CPU test machine sometimes stops a thread for tens of milliseconds, and the
    // generator then truly is late and says so. So up to three runs, and one must keep its
    // schedule; a generator that always warned, or always measured high, fails all three.
    let server = serve(apps::hello);
    let config = BenchConfig {
        rate: Some(200.0),
        ..config(url(&server, "/"), 2, Stop::Duration(Duration::from_millis(1000)))
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        let result = run_open_loop(&config).unwrap();
        let (report, open) = (&result.report, &result.open_loop);
        assert_eq!(report.total_errors(), 0, "{result}");
        assert_eq!(open.due, 200);
        assert_eq!(open.sent, 200, "every request due is sent, late or not: {result}");
        assert!((195..=200).contains(&report.completed), "{result}");
        assert!((report.requests_per_sec - report.completed as f64).abs() < 1e-6, "over 1 s: {result}");
        let (schedule, send) = (open.from_schedule.unwrap(), open.from_send.unwrap());
        assert!(send.p50_ms <= schedule.p50_ms, "the schedule comes before the send: {result}");
        let text = result.to_string();
        assert!(text.contains("open loop at 200.0 requests/s"), "{text}");
        assert_eq!(text.contains("WARNING"), open.fell_behind(), "{text}");
        if !open.fell_behind() && schedule.p99_ms < 20.0 && send.p99_ms < 20.0 {
            return;
        }
        seen.push(text);
    }
    panic!("three runs at 200 requests/s all fell behind or were slow:\n{}", seen.join("\n"));
}
