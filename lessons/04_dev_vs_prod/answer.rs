//! Lesson 4's view of one response: its status, headers and body, and what the dev server's
//! debug page says (the panic message and where it happened).

use super::common;
use std::net::SocketAddr;

/// What one server answered to one request.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

pub fn get(addr: SocketAddr, path: &str) -> Answer {
    let response = common::get(addr, path);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Answer { status: common::status(&response), head: head.to_string(), body: body.to_string() }
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Where the debug page says the app panicked: its `<p class="where">` line.
    pub fn panic_place(&self) -> Option<&str> {
        let line = self.body.split("<p class=\"where\">").nth(1)?.split("</p>").next()?;
        Some(line.trim_start_matches("at ").trim_start_matches("<code>").trim_end_matches("</code>"))
    }

    /// One line that says what came back.
    pub fn summary(&self) -> String {
        let kind = self.header("content-type").unwrap_or("no Content-Type");
        let first = if kind.starts_with("text/html") && self.body.contains("<pre class=\"message\">") {
            // The dev server's debug page: the panic message is in its first <pre>.
            let message =
                self.body.split("<pre class=\"message\">").nth(1).and_then(|p| p.split("</pre>").next());
            format!("HTML page, its <pre>: {:?}", message.unwrap_or(""))
        } else {
            format!("{:?}", self.body.lines().next().unwrap_or(""))
        };
        format!("{} ({kind}) {first}", self.status)
    }
}
