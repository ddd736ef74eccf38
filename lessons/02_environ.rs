//! Lesson 2: the environ, the first argument of every app.
//!
//! wsgiref's `demo_app` prints the environ it is called with. The lesson serves it, sends it
//! requests chosen to show each rule (a UTF-8 path, a raw query, repeated headers, a header
//! name with `_`, a body), prints what the app saw, and explains the keys group by group.
//!
//! Run: `cargo run --release --bin lesson-02-environ` (`--quick` is accepted; this lesson is
//! quick).

mod common;
#[path = "02_environ/python.rs"]
mod python;
mod python_side;

use common::{OrExit, body, exchange, heading, start, verdict};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use wsgi_lab::apps::{demo_app, query_value};
use wsgi_lab::util::to_utf8;
use wsgi_lab::{Environ, Mode, Options};

/// The keys of demo_app's page, `KEY = 'value'` per line, with Python's quoting undone.
fn parse_demo(page: &str) -> BTreeMap<String, String> {
    page.lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, quoted)| (key.to_string(), unquote(quoted)))
        .collect()
}

/// `'it\'s'` → `it's`: the inverse of demo_app's repr-style quoting (enough for this lesson).
fn unquote(quoted: &str) -> String {
    let inner = quoted.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')).unwrap_or(quoted);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The groups of keys, with what each group means. Keys not listed are shown under "other".
const GROUPS: [(&str, &[&str], &str); 5] = [
    (
        "the request (CGI's names)",
        &["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH"],
        "What was asked. SCRIPT_NAME is where the app is mounted (\"\" at the root, lesson 5),\n\
         PATH_INFO the rest of the path, percent-decoded; QUERY_STRING is left as sent.\n\
         CONTENT_TYPE and CONTENT_LENGTH exist only when the request carries a body.",
    ),
    (
        "the server",
        &["SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "GATEWAY_INTERFACE"],
        "Who answers: the bound address, the HTTP version the client spoke, the server's name,\n\
         and CGI/1.1, the interface all of this descends from.",
    ),
    (
        "the client",
        &["REMOTE_ADDR", "REMOTE_PORT", "REQUEST_URI"],
        "Who asked, and the request target exactly as it was on the wire (REQUEST_URI is an\n\
         extension many servers add; PEP 3333 does not require it).",
    ),
    (
        "the headers (HTTP_*)",
        &[],
        "Every other request header: name upper-cased, '-' turned into '_', HTTP_ in front.\n\
         A header sent twice is joined with \", \".",
    ),
    (
        "WSGI's own (wsgi.*)",
        &[],
        "Not CGI: the scheme, the body as a stream (wsgi.input), where errors go, what the\n\
         server promises about threads and processes, and the version of WSGI, (1, 0).",
    ),
];

/// Each environ rule of this lesson, and whose it is: what wsgiref's `make_server` (CPython's
/// `Lib/wsgiref/simple_server.py` and `handlers.py`), waitress (`parser.py`, `task.py`) and
/// wsgi-lab (`src/environ.rs`) put in the environ of the GET above.
const WHOSE: [(&str, &str, &str, &str); 11] = [
    ("wsgi.version (PEP 3333 requires it)", "(1, 0)", "(1, 0)", "(1, 0)"),
    ("a header name with '_' (X_Auth_User)", "HTTP_X_AUTH_USER", "dropped", "dropped, as waitress"),
    ("a header sent twice (X-Tag)", "'one,two'", "'one, two'", "'one, two', as waitress"),
    ("CONTENT_TYPE on a GET with no body", "'text/plain'", "absent", "absent, as waitress"),
    ("CONTENT_LENGTH on a GET with no body", "''", "absent", "absent, as waitress"),
    ("the process's environment (PATH, HOME...)", "copied in", "not there", "not there, as waitress"),
    ("REMOTE_HOST", "'' (or a name)", "= REMOTE_ADDR", "absent (ours)"),
    ("REMOTE_PORT", "absent", "the client's port", "the client's port, as waitress"),
    ("REQUEST_URI", "absent", "the target as sent", "the target as sent, as waitress"),
    ("GATEWAY_INTERFACE", "'CGI/1.1'", "absent", "'CGI/1.1', as wsgiref"),
    ("the response's HTTP version", "HTTP/1.0", "the request's", "the request's, as waitress"),
];

/// Prints whose rule each one is, and checks wsgi-lab's column against the environ it measured.
fn whose_rules(environ: &BTreeMap<String, String>) {
    heading("Whose rule is it: wsgiref's, waitress's, or ours");
    println!("The same GET, as each server would build its environ (wsgiref and waitress from their");
    println!("source; wsgi-lab as measured above):\n");
    println!("  {:<42} {:<18} {:<18} wsgi-lab", "", "wsgiref", "waitress");
    for (rule, wsgiref, waitress, ours) in WHOSE {
        println!("  {rule:<42} {wsgiref:<18} {waitress:<18} {ours}");
    }
    println!();
    println!("wsgiref answers HTTP/1.0 and closes after each response, and turns every '-' of a name");
    println!("into '_' before it makes the key, so X_Auth_User and X-Auth-User land on one key. waitress");
    println!("drops names with '_' (since 1.0, 2016, for the spoofing reason above). wsgi-lab takes");
    println!("waitress's side on headers and on what is absent, keeps wsgiref's GATEWAY_INTERFACE, and");
    println!("sets REQUEST_URI as waitress does (PEP 3333 does not ask for it).");
    println!();
    verdict(
        environ.get("wsgi.version").map(String::as_str) == Some("(1, 0)"),
        "wsgi.version is (1, 0), as PEP 3333 requires of every server",
        &format!("wsgi.version is {:?}", environ.get("wsgi.version")),
    );
    let inherited: Vec<String> =
        std::env::vars().map(|(k, _)| k).filter(|k| environ.contains_key(k)).collect();
    verdict(
        inherited.is_empty() && !environ.contains_key("REMOTE_HOST") && environ.contains_key("REMOTE_PORT"),
        "none of this process's environment variables is in the environ (wsgiref copies them all), \
         REMOTE_PORT is and REMOTE_HOST is not",
        &format!("inherited {inherited:?}; REMOTE_HOST {:?}", environ.get("REMOTE_HOST")),
    );
}

/// The GET of the lesson, to the server at `addr`: the same bytes to wsgi-lab, wsgiref and
/// waitress but for the Host line.
fn the_get(addr: SocketAddr) -> String {
    format!(
        "GET /caf%C3%A9?name=Ada+L%C3%B6&lang=en HTTP/1.1\r\n\
         Host: {addr}\r\n\
         User-Agent: lesson-02\r\n\
         X-Tag: one\r\n\
         X-Tag: two\r\n\
         X_Auth_User: admin\r\n\
         Connection: close\r\n\r\n"
    )
}

fn main() {
    println!("Lesson 2: the environ");
    println!("=====================");
    println!("wsgiref's demo_app answers \"Hello world!\" and every key of the environ it was given.");

    let running = start(demo_app, Mode::Single, Options::default());
    let addr = running.addr();

    heading("A GET request, chosen to show each rule");
    let request = the_get(addr);
    for line in request.trim_end().lines() {
        println!("  > {line}");
    }
    let response = exchange(addr, &request);
    let page = body(&response);
    println!("\nwhat demo_app answered:");
    for line in page.lines() {
        println!("  | {line}");
    }
    let environ = parse_demo(page);

    heading("The keys, group by group");
    println!("CGI (1993) ran one program per request and handed it the request in environment");
    println!("variables: REQUEST_METHOD, QUERY_STRING, HTTP_USER_AGENT... WSGI kept the names and");
    println!("the shape, a dictionary of strings, which is why the argument is called environ.\n");
    let mut shown: Vec<&str> = Vec::new();
    for (title, keys, meaning) in GROUPS {
        println!("{title}:");
        for line in meaning.lines() {
            println!("    {line}");
        }
        let members: Vec<&String> = environ
            .keys()
            .filter(|k| match title {
                t if t.starts_with("the headers") => k.starts_with("HTTP_"),
                t if t.starts_with("WSGI") => k.starts_with("wsgi."),
                _ => keys.contains(&k.as_str()),
            })
            .collect();
        for key in members {
            println!("    {key:<20} {:?}", environ[key]);
            shown.push(key);
        }
        let absent: Vec<&&str> = keys.iter().filter(|k| !environ.contains_key(**k)).collect();
        if !absent.is_empty() {
            println!("    (absent: {})", absent.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "));
        }
        println!();
    }
    let others: Vec<&String> = environ.keys().filter(|k| !shown.contains(&k.as_str())).collect();
    if !others.is_empty() {
        println!("other: {others:?}\n");
    }

    heading("PATH_INFO holds one character per byte (latin-1)");
    let path_info = environ.get("PATH_INFO").cloned().unwrap_or_default();
    let codes: Vec<String> = path_info.chars().map(|c| format!("U+{:04X}", c as u32)).collect();
    println!("  on the wire     /caf%C3%A9            (é is two bytes in UTF-8: C3 A9)");
    println!(
        "  PATH_INFO       {path_info:?}  {} characters: {}",
        path_info.chars().count(),
        codes.join(" ")
    );
    let fixed = to_utf8(&path_info);
    println!(
        "  to_utf8(...)    {fixed:?}  PEP 3333's environ['PATH_INFO'].encode('latin-1').decode('utf-8')"
    );
    println!();
    println!("Why: the bytes of a URL are not promised to be UTF-8, and environ values must be text.");
    println!("Latin-1 maps each byte 0-255 to the character of the same number, so the server can");
    println!("turn any bytes into text and the app can get the very same bytes back, then decode");
    println!("them with the encoding it knows. A byte that is not UTF-8 at all survives too:");
    let raw = exchange(addr, &format!("GET /%FF HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    let odd = parse_demo(body(&raw)).get("PATH_INFO").cloned().unwrap_or_default();
    let odd_byte = odd.chars().nth(1).map(|c| c as u32);
    println!(
        "  /%FF            PATH_INFO {odd:?}, its second character is U+{:04X}: byte FF kept",
        odd_byte.unwrap_or(0)
    );
    println!();
    verdict(
        path_info == "/caf\u{c3}\u{a9}",
        "PATH_INFO is \"/cafÃ©\": the two bytes of é arrived as two characters, Ã and ©",
        &format!("PATH_INFO is {path_info:?}"),
    );
    verdict(fixed == "/café", "to_utf8 turns it back into \"/café\"", &format!("to_utf8 gave {fixed:?}"));
    verdict(
        odd_byte == Some(0xFF),
        "a byte that is not UTF-8 (%FF) reaches the app intact, as U+00FF",
        &format!("/%FF arrived as {odd:?}"),
    );

    heading("QUERY_STRING is raw; decoding is the app's (or the framework's) job");
    let query = environ.get("QUERY_STRING").cloned().unwrap_or_default();
    let mut decoded = Environ::new();
    decoded.set("QUERY_STRING", query.clone());
    let name = query_value(&decoded, "name").unwrap_or_default();
    println!("  QUERY_STRING    {query:?}");
    println!("  name, decoded   {name:?}   ('+' is a space, %C3%B6 is ö; Flask's request.args does this)");
    println!();
    verdict(
        query == "name=Ada+L%C3%B6&lang=en",
        "QUERY_STRING is exactly the bytes after '?', not decoded",
        &format!("QUERY_STRING is {query:?}"),
    );
    verdict(name == "Ada Lö", "decoding it gives \"Ada Lö\"", &format!("decoding gave {name:?}"));

    heading("Headers become HTTP_* keys, except two kinds");
    println!("Names with '_' are dropped (below); Content-Type and Content-Length keep their CGI");
    println!("names, without HTTP_ (the next section).\n");
    let headers: Vec<(&String, &String)> = environ.iter().filter(|(k, _)| k.starts_with("HTTP_")).collect();
    for (key, value) in &headers {
        println!("  {key:<20} {value:?}");
    }
    println!();
    println!("X_Auth_User was sent but is not there. Suppose a proxy in front of the app logs users");
    println!("in and passes the name on in X-Auth-User, removing any X-Auth-User a client sends. If");
    println!("the server also turned X_Auth_User into HTTP_X_AUTH_USER, a client could send");
    println!("`X_Auth_User: admin` past the proxy and be admin. So names with '_' are dropped");
    println!("(nginx ignores such headers by default for the same reason: underscores_in_headers).");
    println!();
    verdict(
        environ.get("HTTP_USER_AGENT").map(String::as_str) == Some("lesson-02"),
        "User-Agent became HTTP_USER_AGENT",
        "HTTP_USER_AGENT is missing or different",
    );
    verdict(
        environ.get("HTTP_X_TAG").map(String::as_str) == Some("one, two"),
        "X-Tag sent twice became one key, \"one, two\"",
        &format!("HTTP_X_TAG is {:?}", environ.get("HTTP_X_TAG")),
    );
    let leaked: Vec<&String> = environ.keys().filter(|k| k.contains("AUTH")).collect();
    verdict(
        leaked.is_empty(),
        "X_Auth_User (a name with '_') is not in the environ under any key",
        &format!("it arrived as {leaked:?}"),
    );

    heading("A request with a body: CONTENT_TYPE and CONTENT_LENGTH");
    let form = "name=Ada&lang=en";
    let post = format!(
        "POST /form HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    for line in post.lines() {
        println!("  > {line}");
    }
    let posted = parse_demo(body(&exchange(addr, &post)));
    for key in ["REQUEST_METHOD", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_TYPE"] {
        println!("  {key:<20} {}", posted.get(key).map_or("(absent)".to_string(), |v| format!("{v:?}")));
    }
    println!("  The two CGI names are kept without HTTP_; the body itself is in wsgi.input.");
    println!();
    verdict(
        posted.get("CONTENT_TYPE").map(String::as_str) == Some("application/x-www-form-urlencoded")
            && posted.get("CONTENT_LENGTH") == Some(&form.len().to_string())
            && !posted.contains_key("HTTP_CONTENT_TYPE"),
        &format!("the POST has CONTENT_TYPE and CONTENT_LENGTH={}, and no HTTP_CONTENT_TYPE", form.len()),
        &format!("the POST's keys are {:?}", posted.keys().collect::<Vec<_>>()),
    );
    verdict(
        !environ.contains_key("CONTENT_LENGTH") && !environ.contains_key("CONTENT_TYPE"),
        "the GET, which had no body, has neither key",
        "the GET has CONTENT_TYPE or CONTENT_LENGTH",
    );

    whose_rules(&environ);
    // Started after ours has answered, so the Python side is left out cleanly when it is off.
    if let Some(python) = python_side::enabled() {
        let ours = python::Built::new("wsgi-lab", &response, environ.clone());
        python::beside(&python, &ours, the_get, &WHOSE);
    }

    running.stop().or_exit("the server did not stop cleanly");
    println!("\nserver stopped.");
}
