//! Lesson 5: serving under `/my-app`, waitress's `url_prefix`.
//!
//! The tutorial mounts its Flask app with `serve(app, ..., url_prefix="/my-app")`. This lesson
//! serves a small app that prints what it sees, asks a real server for paths inside and outside
//! the prefix, shows how the prefix is normalised, how `request_uri` and `application_uri` put
//! it back into URLs, and why a reverse proxy needs it: several apps behind one host, each
//! under its own prefix. With the Python environment (`--no-python` to leave it out), the
//! tutorial's own program on waitress gets the same paths, to show where waitress differs.
//!
//! Run it with `cargo run --release --bin lesson-05-url-prefix`; the page is
//! `lessons/05_url_prefix.md`.

mod common;
mod python_side;

use common::{OrExit, body, get, heading, status};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wsgi_lab::util::{application_uri, request_uri};
use wsgi_lab::{Body, Environ, Mode, Options, Running, StartResponse, UrlPrefix};

/// The tutorial's prefix.
const PREFIX: &str = "/my-app";

/// Prints what the app was handed: where it is mounted, what is left of the path, and the URLs
/// `wsgiref.util` builds from that. One `key=value` per line, so the lesson can read it back.
fn where_am_i(environ: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from(format!(
        "SCRIPT_NAME={}\nPATH_INFO={}\napplication_uri={}\nrequest_uri={}\n",
        &environ["SCRIPT_NAME"],
        &environ["PATH_INFO"],
        application_uri(environ),
        request_uri(environ, true)
    ))
}

/// One value from `where_am_i`'s answer.
fn seen(response: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    body(response).lines().find_map(|line| line.strip_prefix(&prefix)).unwrap_or("?").to_string()
}

/// An empty string shown as `""`, so an empty PATH_INFO is visible in a table.
fn shown(value: &str) -> String {
    if value.is_empty() { "\"\"".to_string() } else { value.to_string() }
}

/// Text indented by four spaces, line by line.
fn indent(text: &str) -> String {
    let lines: Vec<String> = text
        .trim_end()
        .lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("    {l}") })
        .collect();
    lines.join("\n")
}

/// What waitress hands the app for `target` (its `task.py`, restated): SCRIPT_NAME is always the
/// prefix; PATH_INFO loses the prefix when the path is the prefix or below it, and is the
/// whole path otherwise. The app is called either way.
fn waitress_would(prefix: &str, target: &str) -> (String, String) {
    let path = target.split('?').next().unwrap_or("");
    let path_info = if path == prefix {
        ""
    } else {
        path.strip_prefix(prefix).filter(|rest| rest.starts_with('/')).unwrap_or(path)
    };
    (prefix.to_string(), path_info.to_string())
}

/// Starts `where_am_i` mounted at `url_prefix`, in pool mode with one worker (the tutorial's
/// `threads=1`).
fn start_mounted(url_prefix: &str) -> Running {
    let options = Options { threads: 1, url_prefix: url_prefix.into(), ..Options::default() };
    common::start(where_am_i, Mode::Pool, options)
}

fn verdict(ok: bool, claim: &str, otherwise: &str) -> bool {
    common::verdict(ok, claim, &format!("{claim}: {otherwise}"))
}

fn main() {
    let title = format!("Lesson 5: serving under {PREFIX} (url_prefix)");
    println!("{title}\n{}", "=".repeat(title.chars().count()));
    println!("The tutorial: serve(app, host='0.0.0.0', port=50100, threads=1, url_prefix=\"{PREFIX}\")");
    println!(
        "Here: Options {{ threads: 1, url_prefix: \"{PREFIX}\".into(), .. }} on 127.0.0.1, a free port,"
    );
    println!("serving an app that prints SCRIPT_NAME, PATH_INFO and the URLs it would build.");

    let server = start_mounted(PREFIX);
    let mut all_ok = true;

    heading("1. What the app sees, request by request");
    // (request target, the PATH_INFO SPEC §5 promises, or None for "outside: 404").
    let cases: [(&str, Option<&str>); 8] = [
        ("/my-app", Some("")),
        ("/my-app/", Some("/")),
        ("/my-app/hi", Some("/hi")),
        ("/my-app/x/y?q=1", Some("/x/y")),
        ("/hi", None),
        ("/my-application", None),
        ("/My-App/hi", None),
        ("/", None),
    ];
    println!(
        "{:<17} {:>6}  {:<12} {:<10} what waitress would call the app with",
        "request", "status", "SCRIPT_NAME", "PATH_INFO"
    );
    let (mut inside_ok, mut outside_ok) = (true, true);
    let mut outside_body = String::new();
    for (target, expected) in cases {
        let response = get(server.addr(), target);
        let code = status(&response);
        let (w_script, w_path) = waitress_would(PREFIX, target);
        let waitress = format!("SCRIPT_NAME={w_script} PATH_INFO={}", shown(&w_path));
        match expected {
            Some(path_info) => {
                let (script, info) = (seen(&response, "SCRIPT_NAME"), seen(&response, "PATH_INFO"));
                inside_ok &= code == 200 && script == PREFIX && info == path_info;
                println!("{target:<17} {code:>6}  {:<12} {:<10} {waitress}", shown(&script), shown(&info));
            }
            None => {
                let text = body(&response);
                outside_ok &= code == 404 && text.contains(&format!("outside {PREFIX}"));
                if outside_body.is_empty() {
                    outside_body = format!("GET {target} → {code}, body:\n{}", indent(text));
                }
                println!("{target:<17} {code:>6}  {:<12} {:<10} {waitress}", "-", "-");
            }
        }
    }
    println!("\n{outside_body}\n");
    all_ok &= verdict(
        inside_ok,
        "inside the prefix the app sees SCRIPT_NAME=/my-app and the rest of the path in PATH_INFO",
        "a row above differs from SPEC §5",
    );
    all_ok &= verdict(
        outside_ok,
        "outside the prefix (/hi, /my-application, /My-App/hi, /) the server answers 404 naming /my-app",
        "a path outside the prefix reached the app, or the 404 does not name the prefix",
    );
    println!("Where waitress differs: it calls the app for /hi too, with SCRIPT_NAME=/my-app and");
    println!("PATH_INFO=/hi, so a route /hi answers at a URL outside the prefix and builds links to");
    println!("/my-app/hi: one page, two URLs. wsgi-lab refuses instead, so a proxy that forgot to keep");
    println!("the prefix shows up at once as a 404 that names it.");
    if let Some(python) = python_side::enabled() {
        all_ok &= beside_waitress(&python, server.addr());
    }

    heading("2. The prefix is normalised once, when the server is configured");
    println!("{:<12} normalised", "url_prefix");
    for spelling in ["/my-app", "my-app/", "/my-app/", "my-app", "/", ""] {
        println!("{:<12} {}", format!("{spelling:?}"), shown(UrlPrefix::new(spelling).as_str()));
    }
    let sloppy = start_mounted("my-app/");
    let answer = get(sloppy.addr(), "/my-app/hi");
    let script = seen(&answer, "SCRIPT_NAME");
    println!(
        "A server started with url_prefix \"my-app/\": GET /my-app/hi → {} SCRIPT_NAME={script}",
        status(&answer)
    );
    all_ok &= verdict(
        status(&answer) == 200 && script == PREFIX,
        "`my-app/` is served as `/my-app`: one leading slash, no trailing slash",
        &format!("got status {} and SCRIPT_NAME={script}", status(&answer)),
    );
    drop(sloppy);

    heading("3. URLs with the prefix: wsgi_lab::util::application_uri and request_uri");
    let response = get(server.addr(), "/my-app/x/y?q=1");
    let (app_url, req_url) = (seen(&response, "application_uri"), seen(&response, "request_uri"));
    println!("GET /my-app/x/y?q=1 with Host: localhost");
    println!("  application_uri(environ)       = {app_url}   (scheme, Host, SCRIPT_NAME)");
    println!("  request_uri(environ, true)     = {req_url}   (+ PATH_INFO and the query)");
    all_ok &= verdict(
        app_url == "http://localhost/my-app" && req_url == "http://localhost/my-app/x/y?q=1",
        "the URLs the app builds put the prefix back, so its links lead back to it",
        "the prefix is missing from a URL",
    );
    drop(server);

    heading("4. Why a reverse proxy needs it: several apps under one host");
    // The blog and the shop know their prefixes; the wiki does not, so the proxy cuts /wiki off
    // for it (as nginx's `proxy_pass http://wiki/;` does) and the wiki never learns it.
    let blog = start_mounted("/blog");
    let shop = start_mounted("/shop");
    let wiki = start_mounted("");
    let proxy = Proxy::start(vec![
        Route { prefix: "/blog", backend: blog.addr(), strip: false },
        Route { prefix: "/shop", backend: shop.addr(), strip: false },
        Route { prefix: "/wiki", backend: wiki.addr(), strip: true },
    ]);
    println!("One proxy on 127.0.0.1:{} forwards by the first path segment:", proxy.addr.port());
    println!("  /blog → blog (url_prefix=/blog), /shop → shop (url_prefix=/shop),");
    println!("  /wiki → wiki (no url_prefix; the proxy cuts /wiki off before forwarding)");
    println!(
        "\n{:<15} {:<12} {:<10} the link the app builds for this page",
        "request", "SCRIPT_NAME", "PATH_INFO"
    );
    let mut links = Vec::new();
    for target in ["/blog/posts/1", "/shop/cart", "/wiki/page"] {
        let response = get(proxy.addr, target);
        let link = seen(&response, "request_uri");
        println!(
            "{target:<15} {:<12} {:<10} {link}",
            shown(&seen(&response, "SCRIPT_NAME")),
            shown(&seen(&response, "PATH_INFO"))
        );
        links.push(link);
    }
    // Follow each link back through the proxy: does it reach the same page?
    println!("\nFollowing each link back through the proxy:");
    let mut followed = Vec::new();
    for link in &links {
        let path = link.strip_prefix("http://localhost").unwrap_or(link);
        let response = get(proxy.addr, path);
        println!("  GET {path:<14} → {}", status(&response));
        followed.push(status(&response));
    }
    all_ok &= verdict(
        followed == [200, 200, 404],
        "with url_prefix each app's links lead back to it through the proxy; the wiki, never told \
         its prefix, links to /page, which no app on this host serves (404)",
        &format!("the links answered {followed:?}, expected [200, 200, 404]"),
    );
    drop(proxy);
    drop((blog, shop, wiki));

    println!("\nServers stopped.{}", if all_ok { "" } else { " Some claims were NOT AS PREDICTED." });
}

/// The tutorial's own program on waitress (`examples/python/url_prefix.py`: Flask, one route
/// `/hi`, `url_prefix="/my-app"`) asked the same paths as wsgi-lab's server: the statuses side by
/// side, and the difference on a line of its own.
fn beside_waitress(python: &python_side::Python, ours: SocketAddr) -> bool {
    heading("1b. The same paths to waitress itself (the real Python)");
    let waitress =
        python_side::PythonServer::start(python, &["url_prefix.py"]).or_exit("cannot start url_prefix.py");
    println!(
        "examples/python/url_prefix.py: Flask's route /hi, served by waitress with url_prefix=\"{PREFIX}\""
    );
    println!("at http://{}; wsgi-lab's column is the server of the table above.\n", waitress.addr());
    println!("{:<17} {:>8} {:>9}", "request", "waitress", "wsgi-lab");
    let mut hi = (0, 0);
    for target in ["/my-app/hi", "/hi", "/my-application", "/"] {
        let (theirs, mine) = (status(&get(waitress.addr(), target)), status(&get(ours, target)));
        println!("{target:<17} {theirs:>8} {mine:>9}");
        if target == "/hi" {
            hi = (theirs, mine);
        }
    }
    println!(
        "\ndifference: /hi: waitress {}, the app called with SCRIPT_NAME={PREFIX} PATH_INFO=/hi and its \
         route answered; wsgi-lab {}, refused before the app (SPEC.md §5)",
        hi.0, hi.1
    );
    println!("(waitress's 404s above are Flask's: the app was called and had no such route.)");
    verdict(
        hi == (200, 404),
        "waitress passed /hi, outside its url_prefix, to the app (measured 200); wsgi-lab answered 404",
        &format!("waitress answered {}, wsgi-lab {}", hi.0, hi.1),
    )
}

/// One rule of the proxy: requests whose path is at or below `prefix` go to `backend`.
struct Route {
    prefix: &'static str,
    backend: SocketAddr,
    /// Cut the prefix off the path before forwarding (the backend then never sees it).
    strip: bool,
}

/// A reverse proxy small enough to read: one request per connection (every request in this
/// lesson says `Connection: close` and has no body), answered one after the other.
struct Proxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(routes: Vec<Route>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the proxy's address");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                // Drop sets the flag, then connects once to wake this accept.
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(client) = client {
                    let _ = forward(client, &routes);
                }
            }
        });
        Proxy { addr, stop, thread: Some(thread) }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request head, picks the route, forwards the head and copies the answer back.
fn forward(mut client: TcpStream, routes: &[Route]) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').map_or((target.as_str(), ""), |(p, q)| (p, q));
    let chosen = routes.iter().find_map(|r| UrlPrefix::new(r.prefix).split(path).map(|rest| (r, rest)));
    let Some((route, rest)) = chosen else {
        let text = format!("no app is mounted at {path} on this host\n");
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        return client.write_all(answer.as_bytes());
    };
    let head = if route.strip {
        let rest = if rest.is_empty() { "/" } else { rest };
        let new_target = if query.is_empty() { rest.to_string() } else { format!("{rest}?{query}") };
        // The first occurrence is the one in the request line.
        head.replacen(&target, &new_target, 1)
    } else {
        head
    };
    let mut backend = TcpStream::connect(route.backend)?;
    backend.write_all(head.as_bytes())?;
    io::copy(&mut backend, &mut client)?;
    Ok(())
}
