//! Lesson 2's Python side: the same GET sent to `examples/python/environ_dump.py` under wsgiref
//! and under waitress, their environs compared key by key with the one demo_app saw, and the
//! "Whose rule is it" table (written from the sources) checked against all three.

use crate::common::{body, exchange, heading, verdict};
use crate::python_side::{Python, PythonServer};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

/// Keys whose values differ between any two servers by nature (each has its own port and its
/// own name): compared for presence only.
const OWN_VALUES: [&str; 5] = ["SERVER_PORT", "REMOTE_PORT", "HTTP_HOST", "SERVER_SOFTWARE", "SERVER_NAME"];

/// What one server built for the GET, and how it answered.
pub struct Built {
    pub server: &'static str,
    pub environ: BTreeMap<String, String>,
    /// The status line's HTTP version.
    pub version: String,
    /// How many keys are the server process's own environment variables.
    pub inherited: usize,
}

impl Built {
    /// `response` as a server's answer: its status line and its environ page.
    pub fn new(server: &'static str, response: &str, environ: BTreeMap<String, String>) -> Built {
        let version = response.split_whitespace().next().unwrap_or("").to_string();
        let inherited = environ.keys().filter(|k| is_inherited(k)).count();
        Built { server, environ, version, inherited }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.environ.get(key).map(String::as_str)
    }

    /// What this server did for one rule of the table, in the table's words.
    fn cell(&self, rule: &str) -> String {
        let quoted = |key: &str| self.get(key).map_or("absent".to_string(), |v| format!("'{v}'"));
        match rule {
            r if r.starts_with("wsgi.version") => self.get("wsgi.version").unwrap_or("absent").to_string(),
            r if r.starts_with("a header name with '_'") => match self.get("HTTP_X_AUTH_USER") {
                Some(_) => "HTTP_X_AUTH_USER".to_string(),
                None => "dropped".to_string(),
            },
            r if r.starts_with("a header sent twice") => quoted("HTTP_X_TAG"),
            r if r.starts_with("CONTENT_TYPE") => quoted("CONTENT_TYPE"),
            r if r.starts_with("CONTENT_LENGTH") => quoted("CONTENT_LENGTH"),
            r if r.starts_with("the process's environment") => match self.inherited {
                0 => "not there".to_string(),
                _ => "copied in".to_string(),
            },
            "REMOTE_HOST" => match self.get("REMOTE_HOST") {
                None => "absent".to_string(),
                Some("") => "'' (or a name)".to_string(),
                Some(host) if Some(host) == self.get("REMOTE_ADDR") => "= REMOTE_ADDR".to_string(),
                Some(host) => format!("'{host}'"),
            },
            "REMOTE_PORT" => match self.get("REMOTE_PORT") {
                Some(port) if port.parse::<u16>().is_ok() => "the client's port".to_string(),
                other => other.map_or("absent".to_string(), |v| format!("'{v}'")),
            },
            "REQUEST_URI" => match self.get("REQUEST_URI") {
                Some(_) => "the target as sent".to_string(),
                None => "absent".to_string(),
            },
            "GATEWAY_INTERFACE" => quoted("GATEWAY_INTERFACE"),
            // The lesson's requests speak HTTP/1.1.
            r if r.starts_with("the response's HTTP version") => match self.version.as_str() {
                "HTTP/1.1" => "the request's".to_string(),
                other => other.to_string(),
            },
            _ => "?".to_string(),
        }
    }
}

/// Sends `request(addr)` to environ_dump.py under wsgiref and under waitress, prints where
/// their environs differ from `ours`, and checks `table`'s three columns against what each
/// server built. `true` when every verdict is OK; `None` when a server would not start.
pub fn beside(
    python: &Python,
    ours: &Built,
    request: fn(SocketAddr) -> String,
    table: &[(&str, &str, &str, &str)],
) -> Option<bool> {
    heading("The same GET to the real servers: wsgiref and waitress");
    println!("examples/python/environ_dump.py answers its environ as demo_app does, one key a line;");
    println!("the lesson serves it with wsgiref (make_server) and with waitress (serve), sends each the");
    println!("GET above, and prints each key whose presence or value is not the same in all three.\n");
    let mut built = Vec::new();
    for server in ["wsgiref", "waitress"] {
        let running = match PythonServer::start(python, &["environ_dump.py", server]) {
            Ok(running) => running,
            Err(why) => {
                println!("(Python side: not run: {why})");
                return None;
            }
        };
        let response = exchange(running.addr(), &request(running.addr()));
        built.push(Built::new(server, &response, crate::parse_demo(body(&response))));
    }
    let (wsgiref, waitress) = (&built[0], &built[1]);
    let all = [wsgiref, waitress, ours];

    // The process's environment first, in one line: wsgiref's copy is dozens of keys.
    let names = |b: &Built| match b.inherited {
        0 => "none".to_string(),
        n => format!("{n} keys (PATH, HOME...)"),
    };
    println!(
        "  the process's environment: wsgiref {}; waitress {}; wsgi-lab {}",
        names(wsgiref),
        names(waitress),
        names(ours)
    );
    let keys: BTreeSet<&String> =
        all.iter().flat_map(|b| b.environ.keys()).filter(|k| !is_inherited(k)).collect();
    for key in keys {
        let values: Vec<Option<&str>> = all.iter().map(|b| b.get(key)).collect();
        let present = values.iter().filter(|v| v.is_some()).count();
        // Objects (wsgi.input...) are shown by type, each server its own: presence only.
        let presence_only =
            OWN_VALUES.contains(&key.as_str()) || values.iter().flatten().all(|v| v.starts_with('<'));
        // Python writes True where Rust writes true: the same value.
        let same = presence_only
            || values.windows(2).all(|w| w[0].map(str::to_lowercase) == w[1].map(str::to_lowercase));
        if present == all.len() && same {
            continue;
        }
        let shown: Vec<String> = all
            .iter()
            .zip(&values)
            .map(|(b, v)| match v {
                None => format!("{} absent", b.server),
                Some(_) if presence_only => format!("{} set", b.server),
                Some(v) => format!("{} '{v}'", b.server),
            })
            .collect();
        println!("  {key}: {}", shown.join("; "));
    }
    println!(
        "  the response's status line: wsgiref {}; waitress {}; wsgi-lab {}",
        wsgiref.version, waitress.version, ours.version
    );

    println!("\nThe table of \"Whose rule is it\", written from the sources, against what was built:");
    println!("  {:<42} {:<18} {:<18} wsgi-lab", "measured", "wsgiref", "waitress");
    for (rule, ..) in table {
        let cells: Vec<String> = all.iter().map(|b| b.cell(rule)).collect();
        println!("  {rule:<42} {:<18} {:<18} {}", cells[0], cells[1], cells[2]);
    }
    println!();
    let mut ok = true;
    for (column, b) in all.iter().enumerate() {
        // Our column adds whose rule it follows ("dropped, as waitress"): the measured words
        // must begin it.
        let misses: Vec<String> = table
            .iter()
            .filter_map(|row| {
                let said = [row.1, row.2, row.3][column];
                let measured = b.cell(row.0);
                let agrees = if column == 2 { said.starts_with(&measured) } else { said == measured };
                (!agrees).then(|| format!("{}: table {said:?}, measured {measured:?}", row.0))
            })
            .collect();
        ok &= verdict(
            misses.is_empty(),
            &format!(
                "the table's {} column is what {} built: {} of {} rules",
                b.server,
                b.server,
                table.len(),
                table.len()
            ),
            &format!("the table's {} column differs from what was measured: {}", b.server, misses.join("; ")),
        );
    }
    Some(ok)
}

/// Whether `key` names an environment variable of the server processes: the lesson's own, or
/// one of the four python_side adds for its servers. A server that copies `os.environ`
/// (wsgiref) puts every one of them in every environ.
fn is_inherited(key: &str) -> bool {
    std::env::var_os(key).is_some() || ["PORT", "HOST", "PYTHONUNBUFFERED", "NO_COLOR"].contains(&key)
}
