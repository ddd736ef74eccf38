//! The header timeout (SPEC §3), over real sockets to single-threaded mode: a client that
//! stalls or drips its head byte by byte (slowloris) gets a 408 once the timeout is over, and
//! the server goes on serving; one that leaves without a request does not stop it.

mod common;

use common::{Response, TestServer, connect, exchange, read_to_close, send};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wsgi_lab::{Mode, Options, apps};

fn serve(options: Options) -> TestServer {
    common::start(apps::hello, options, Mode::Single)
}

#[test]
fn a_stalled_client_gets_408_after_the_header_timeout_and_the_next_client_is_served() {
    let timeout = Duration::from_millis(400);
    let server = serve(Options { header_timeout: timeout, ..common::options() });
    let started = Instant::now();
    let mut stalled = connect(server.addr);
    send(&mut stalled, b"GET / HTTP/1.1\r\nHost: slow\r\n"); // no empty line: the head never ends
    let addr = server.addr;
    let normal = std::thread::spawn(move || {
        let response = Response::parse(&exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        (response, started.elapsed())
    });

    let refused = Response::parse(&read_to_close(&mut stalled));
    let stalled_for = started.elapsed();
    drop(stalled);
    assert_eq!(refused.status, 408, "{}", refused.text());
    assert_eq!(refused.header("connection"), Some("close"));
    assert!(stalled_for >= timeout / 2, "cut off after {stalled_for:?}, before the timeout of {timeout:?}");
    assert!(stalled_for < timeout * 10, "cut off only after {stalled_for:?}");

    let (response, normal_after) = normal.join().unwrap();
    assert_eq!(response.status, 200);
    // Single-threaded: the normal client waited behind the stalled one (the lesson of the mode).
    assert!(normal_after >= timeout / 2, "answered after {normal_after:?}, while the stalled one was held");
}

#[test]
fn a_head_dripped_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let timeout = Duration::from_millis(400);
    let server = serve(Options { header_timeout: timeout, ..common::options() });
    let started = Instant::now();
    let mut client = connect(server.addr);
    send(&mut client, b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ");
    // Slowloris: one byte every 50 ms keeps the connection busy but never ends the head.
    let stop = Arc::new(AtomicBool::new(false));
    let mut dripper = client.try_clone().unwrap();
    let dripping = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) && started.elapsed() < timeout * 20 {
                if dripper.write_all(b"z").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let refused = Response::parse(&read_to_close(&mut client));
    let cut_after = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    dripping.join().unwrap();
    drop(client);
    assert_eq!(refused.status, 408);
    assert!(cut_after >= timeout / 2, "cut off after {cut_after:?}, before the timeout of {timeout:?}");
    assert!(cut_after < timeout * 10, "the drip kept the connection for {cut_after:?}");
    assert_eq!(server.get("/").status, 200, "served after the slow client");
}

#[test]
fn a_client_that_leaves_without_a_request_does_not_stop_the_server() {
    let server = serve(common::options());
    drop(connect(server.addr));
    let mut half = connect(server.addr);
    send(&mut half, b"GET / HT");
    drop(half);
    assert_eq!(server.get("/").status, 200);
}
