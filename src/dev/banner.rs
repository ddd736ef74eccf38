//! The lines the dev server prints when it starts, as Flask's `app.run` prints its own: what
//! is served, how, and the warning that this is not a production server.

use super::DevServer;
use colored::Colorize;
use std::net::SocketAddr;

/// What the banner calls the app.
const APP_NAME: &str = "wsgi-lab dev server";

impl DevServer {
    /// The lines printed when the server starts, as Flask prints them, with what Flask leaves
    /// out: whether requests get threads, and that wsgi-lab's contract validator is on. A
    /// second warning comes when the server is bound to anything but loopback, so other
    /// machines can reach it.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, DevServer};
    /// let server = DevServer::bind(hello, "127.0.0.1", 0, true)?;
    /// let banner = server.banner();
    /// assert!(banner.contains(" * Debug mode: on"));
    /// assert!(banner.contains(" * Threaded: a thread per request, no limit"));
    /// assert!(banner.contains("WARNING: this is a development server, not for production"));
    /// assert!(banner.contains(&format!(" * Running on http://{}", server.server_address())));
    /// assert!(!banner.contains("reachable from other machines"));
    /// let single = DevServer::bind(hello, "127.0.0.1", 0, false)?.threaded(false);
    /// assert!(single.banner().contains(" * Threaded: no, one request at a time"));
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn banner(&self) -> String {
        let threads = if self.threaded {
            "a thread per request, no limit (as Werkzeug's threaded=True, Flask's default)"
        } else {
            "no, one request at a time (as Werkzeug's threaded=False)"
        };
        let mut warnings = vec![
            "WARNING: this is a development server, not for production: no timeouts, no limits, \
             lenient HTTP parsing (tiny_http's). Serve the app with a production WSGI server \
             instead (wsgi-lab serve, or waitress in Python)."
                .to_string(),
        ];
        if !self.addr.ip().is_loopback() {
            // As Flask warns: 127.0.0.1 is this machine only; any other address is not.
            let debug =
                if self.handler.debug { ", debug on (a panic shows the request and environ)" } else { "" };
            warnings.push(format!(
                "WARNING: the dev server is reachable from other machines at {}{debug}; it is not for \
                 production (tiny_http accepts malformed requests: see the wsgi_lab::dev docs, src/dev.rs)",
                self.addr
            ));
        }
        let paint = |w: String| if self.handler.color { w.red().bold().to_string() } else { w };
        let warning = warnings.into_iter().map(paint).collect::<Vec<_>>().join("\n");
        let running = if self.addr.ip().is_unspecified() {
            let local = SocketAddr::from(([127, 0, 0, 1], self.addr.port()));
            format!(" * Running on all addresses ({})\n * Running on http://{local}", self.addr.ip())
        } else {
            format!(" * Running on http://{}", self.addr)
        };
        let debug = if self.handler.debug { "on" } else { "off" };
        [
            format!(" * Serving app '{APP_NAME}'"),
            format!(" * Debug mode: {debug}"),
            format!(" * Threaded: {threads}"),
            " * Contract validator: on (wsgi-lab's own, our twin of wsgiref.validate; Werkzeug has none)"
                .to_string(),
            warning,
            running,
            " * Press Ctrl+C to quit (at once, as Werkzeug's: a request in flight is cut off)".to_string(),
        ]
        .join("\n")
    }
}
