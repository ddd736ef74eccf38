//! Lesson 10: behind a reverse proxy. Which address to bind, which user to run as, and what the
//! app sees when nginx stands in front of wsgi-lab: `url_prefix` and `trusted_proxy` at work.
//! Runs a real nginx when one is installed, else a minimal proxy of its own. See
//! `lessons/10_behind_a_proxy.md`.
//!
//! With the Python environment, the real `waitress-serve` shows where waitress listens when not
//! told: 0.0.0.0 (`lessons/10_behind_a_proxy/waitress.rs`; `--no-python` leaves it out).
//!
//! `cargo run --release --bin lesson-10-behind-a-proxy` (`--quick` is accepted, the lesson is
//! quick anyway; `--built-in-proxy` uses the lesson's own proxy even when nginx is installed).

mod common;

use common::OrExit;
mod python_side;
mod reverse_proxy;
#[path = "10_behind_a_proxy/waitress.rs"]
mod waitress;

use reverse_proxy::{MiniProxy, Nginx, Proxy, find_nginx};
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;
use wsgi_lab::{Mode, Options, Server, apps::echo};

/// The address a client of the lesson claims to be, in `X-Forwarded-For` (a documentation
/// address, RFC 5737: it belongs to nobody).
const SPOOFED: &str = "203.0.113.9";

fn main() {
    println!("Lesson 10: behind a proxy");
    let ports = binding();
    // waitress's own default address, shown the same way (`--no-python` leaves it out).
    if let Some(python) = python_side::enabled() {
        waitress::default_address(&python);
    }
    user(&ports);
    behind_a_proxy();
}

/// The second loopback address: Linux routes all of 127.0.0.0/8 to the loopback interface, so
/// 127.0.0.2 is an address of this machine other than 127.0.0.1. It stands in for a network
/// address (a LAN card's), which the lesson never connects to.
const OTHER_LOOPBACK: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Binds 127.0.0.1 and 0.0.0.0, shows what each server reports, and which of this machine's
/// addresses each one answers on; returns the ports bound.
fn binding() -> Vec<u16> {
    common::heading("1. Which address to bind");
    println!(
        "A server listens on one address of the machine. 127.0.0.1 is loopback: only programs on\n\
         this machine can connect. 0.0.0.0 means every interface: other machines can connect too,\n\
         through this machine's network addresses (0.0.0.0 itself is not an address to browse to).\n\
         To show it without leaving the machine, the lesson asks each server at two addresses:\n\
         127.0.0.1, and 127.0.0.2, another address of this machine (Linux routes all of\n\
         127.0.0.0/8 to loopback), standing in for a network address."
    );
    let mut reported = Vec::new();
    for host in ["127.0.0.1", "0.0.0.0"] {
        let options =
            Options { host: host.to_string(), port: 0, threads: 2, quiet: true, ..Options::default() };
        let server = Server::bind(echo, options, Mode::Pool).or_exit("cannot start the server");
        let addr = server.server_address();
        println!("host {host:<10} → the server reports {addr}   ({})", server.startup_line());
        let running = server.spawn();
        let answers: Vec<Result<u16, String>> = [Ipv4Addr::LOCALHOST, OTHER_LOOPBACK]
            .into_iter()
            .map(|ip| {
                let at = SocketAddr::from((ip, addr.port()));
                let answer = get_on_loopback(at);
                match &answer {
                    Ok(status) => println!("  GET / at {at} → answered {status}"),
                    Err(error) => println!("  GET / at {at} → {error}"),
                }
                answer
            })
            .collect();
        running.stop().or_exit("the server did not stop cleanly");
        reported.push((addr, answers));
    }
    println!(
        "Bound to 127.0.0.1, the server listens on that one address: a connection to any other\n\
         address of the machine is refused, as one from the network would be. Bound to 0.0.0.0,\n\
         it answers on every address the machine has, its network addresses too.\n\
         Behind a reverse proxy, bind 127.0.0.1: the proxy is on the same machine, and nobody\n\
         else can bypass it. Bind 0.0.0.0 only when clients must reach the app server directly."
    );
    let (local, local_answers) = &reported[0];
    common::check(
        local.ip() == IpAddr::from(Ipv4Addr::LOCALHOST)
            && local_answers[0] == Ok(200)
            && local_answers[1].as_ref().is_err_and(|e| e.starts_with("connection refused")),
        &format!(
            "127.0.0.1: reports {local}, answered 200 at 127.0.0.1 and refused the connection at \
             {OTHER_LOOPBACK}: one address only"
        ),
    );
    let (every, every_answers) = &reported[1];
    common::check(
        every.ip().is_unspecified() && every_answers.iter().all(|a| *a == Ok(200)),
        &format!(
            "0.0.0.0: reports {every}, answered 200 at 127.0.0.1 and at {OTHER_LOOPBACK}: every address"
        ),
    );
    reported.iter().map(|(addr, _)| addr.port()).collect()
}

/// `GET /` at `addr`, a loopback address: the status, or why there was none, in words.
fn get_on_loopback(addr: SocketAddr) -> Result<u16, String> {
    // The lesson shows binding without a network: it never connects off this machine.
    assert!(addr.ip().is_loopback(), "the lesson connects to loopback addresses only, not {addr}");
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            return Err(format!("connection refused (nothing listens on {addr})"));
        }
        Err(e) => return Err(format!("no connection: {e}")),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.read_to_end(&mut answer))
        .map_err(|e| format!("no answer: {e}"))?;
    Ok(common::status(&String::from_utf8_lossy(&answer)))
}

fn user(ports: &[u16]) {
    common::heading("2. Which user runs the app");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // `Uid:  real  effective  saved  filesystem`
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse::<u32>().ok());
    let low_ports = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1024);
    match euid {
        Some(0) => println!("effective user id: 0 (root), from /proc/self/status"),
        Some(id) => println!("effective user id: {id} (not root), from /proc/self/status"),
        None => println!("effective user id: unknown (no /proc/self/status here; try `id -u`)"),
    }
    println!(
        "ports below {low_ports} need root (or the CAP_NET_BIND_SERVICE capability) on this machine\n\
         (/proc/sys/net/ipv4/ip_unprivileged_port_start)"
    );
    println!(
        "waitress says not to run it as root: the server runs your app's code, so as root a bug\n\
         or an exploit in the app can do anything to the machine. Run the app server as an\n\
         unprivileged user on a high port, and let the proxy take ports 80 and 443 (nginx starts\n\
         as root to bind them, then its workers drop to an unprivileged user)."
    );
    if euid == Some(0) {
        println!(
            "We are root here: common in a throwaway container (CI runs in one), and what waitress\n\
             warns against on a server. The lesson changes no users, and needs no root."
        );
    }
    let listed: Vec<String> = ports.iter().map(u16::to_string).collect();
    common::check(
        ports.iter().all(|&port| u32::from(port) >= low_ports),
        &format!(
            "the ports section 1 bound ({}) are all {low_ports} or above: no root needed",
            listed.join(", ")
        ),
    );
}

fn behind_a_proxy() {
    common::heading("3. A reverse proxy in front: what the app sees");
    // The backend trusts the proxy's address, and believes two of its headers.
    let trusting = |proxy: IpAddr| Options {
        threads: 2,
        url_prefix: "/my-app".into(),
        trusted_proxy: Some(proxy),
        trusted_proxy_headers: vec!["x-forwarded-for".into(), "x-forwarded-proto".into()],
        ..Options::default()
    };
    let backend = common::start(echo, Mode::Pool, trusting(IpAddr::from(Ipv4Addr::LOCALHOST)));
    println!(
        "backend: wsgi-lab at {}, url_prefix \"/my-app\", trusted_proxy 127.0.0.1,\n\
         trusted_proxy_headers x-forwarded-for, x-forwarded-proto, the echo app",
        backend.url()
    );
    let forced = std::env::args().any(|a| a == "--built-in-proxy");
    let nginx = if forced { None } else { find_nginx() };
    let mut proxy = match nginx {
        Some(path) => match Nginx::start(&path, backend.addr().port()) {
            Ok(nginx) => Proxy::Nginx(nginx),
            Err(e) => {
                println!(
                    "nginx at {} did not start ({e}); using the lesson's own minimal proxy instead",
                    path.display()
                );
                Proxy::BuiltIn(MiniProxy::start(backend.addr()))
            }
        },
        None if forced => {
            println!("--built-in-proxy: using the lesson's own minimal proxy");
            Proxy::BuiltIn(MiniProxy::start(backend.addr()))
        }
        None => {
            println!(
                "nginx not found: apt-get install nginx to run the real proxy; using the lesson's own minimal proxy instead"
            );
            Proxy::BuiltIn(MiniProxy::start(backend.addr()))
        }
    };
    let proxy_addr = proxy.addr();
    match &proxy {
        Proxy::Nginx(nginx) => {
            println!("proxy: nginx ({}) on {proxy_addr}", nginx.binary.display());
            let dir = nginx.dir.path().display();
            println!(
                "nginx files: {dir} (lessons/10_behind_a_proxy.nginx.conf filled in, logs, temp paths; \
                 removed at the end)"
            );
            println!(
                "nginx command: {} -p {dir} -c {dir}/nginx.conf -g 'daemon off; pid {dir}/nginx.pid;'",
                nginx.binary.display()
            );
        }
        Proxy::BuiltIn(_) => println!("proxy: built-in (the lesson's MiniProxy) on {proxy_addr}"),
    }

    println!("\n(a) Through the proxy, with a client-chosen X-Forwarded-For: {SPOOFED}");
    let request = format!(
        "GET /my-app/hello?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: {SPOOFED}\r\nConnection: close\r\n\r\n"
    );
    let seen = environ_of(proxy_addr, &request);
    show(&seen);
    println!(
        "The proxy appended the address it saw to what the client sent. The backend believes only\n\
         that last entry, the one its trusted proxy vouches for: REMOTE_ADDR is 127.0.0.1, not the\n\
         {SPOOFED} the client claimed. (On a real deployment the last entry is the visitor's own\n\
         address; here the visitor is the lesson, on this machine, so it is 127.0.0.1 again.)\n\
         The path /my-app/hello was passed on unchanged and split by url_prefix."
    );
    common::check(
        text(&seen, "REMOTE_ADDR") == "127.0.0.1",
        &format!(
            "REMOTE_ADDR = {} (predicted 127.0.0.1, the entry the proxy appended)",
            text(&seen, "REMOTE_ADDR")
        ),
    );
    common::check(
        text(&seen, "HTTP_X_FORWARDED_FOR") == format!("{SPOOFED}, 127.0.0.1"),
        &format!(
            "X-Forwarded-For reached the app as {} (the client's entry, then the proxy's)",
            text(&seen, "HTTP_X_FORWARDED_FOR")
        ),
    );
    common::check(
        text(&seen, "SCRIPT_NAME") == "/my-app" && text(&seen, "PATH_INFO") == "/hello",
        &format!(
            "SCRIPT_NAME = {}, PATH_INFO = {} (predicted /my-app and /hello)",
            text(&seen, "SCRIPT_NAME"),
            text(&seen, "PATH_INFO")
        ),
    );

    println!("\n(b) Straight to a backend that trusts another address (127.0.0.2), the same header");
    let other = common::start(echo, Mode::Pool, trusting(IpAddr::from([127, 0, 0, 2])));
    let direct = environ_of(other.addr(), &request);
    show(&direct);
    println!(
        "The request came from 127.0.0.1, which this backend does not trust: the proxy headers\n\
         are removed before the app runs, so no client can claim an address."
    );
    common::check(
        text(&direct, "REMOTE_ADDR") == "127.0.0.1" && text(&direct, "HTTP_X_FORWARDED_FOR") == ABSENT,
        "untrusted client: REMOTE_ADDR is its own address and X-Forwarded-For was removed",
    );
    other.stop().or_exit("the server did not stop cleanly");

    println!("\n(c) Straight to the first backend, which trusts 127.0.0.1, the same header");
    let bypass = environ_of(backend.addr(), &request);
    println!("{:<22} = {}", "REMOTE_ADDR", text(&bypass, "REMOTE_ADDR"));
    println!(
        "Trust is by address: any program that connects from the proxy's address is believed. Here\n\
         the lesson's client shares 127.0.0.1 with the proxy, so its claim is taken. So only the\n\
         proxy should reach the backend: bound to 127.0.0.1, on a machine running nothing untrusted."
    );
    common::check(
        text(&bypass, "REMOTE_ADDR") == SPOOFED,
        &format!(
            "a client on the trusted address is believed: REMOTE_ADDR = {}",
            text(&bypass, "REMOTE_ADDR")
        ),
    );

    proxy.stop();
    backend.stop().or_exit("the server did not stop cleanly");
}

/// The echo app's environ for `request` sent to `addr`.
fn environ_of(addr: SocketAddr, request: &str) -> Value {
    let response = common::exchange(addr, request);
    let json: Value = serde_json::from_str(common::body(&response))
        .unwrap_or_else(|_| panic!("the echo app answers JSON, got {response:?}"));
    json["environ"].clone()
}

/// What `text` says of a key the environ does not have.
const ABSENT: &str = "(absent)";

/// An environ value as text, or [`ABSENT`].
fn text<'a>(environ: &'a Value, key: &str) -> &'a str {
    environ[key].as_str().unwrap_or(ABSENT)
}

fn show(environ: &Value) {
    let keys = [
        "REMOTE_ADDR",
        "SCRIPT_NAME",
        "PATH_INFO",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PROTO",
        "wsgi.url_scheme",
        "HTTP_HOST",
    ];
    for key in keys {
        println!("{key:<22} = {}", text(environ, key));
    }
}
