//! The server's log on stderr, in wsgiref's format:
//! `127.0.0.1 - - [21/Nov/2026 10:24:03] "GET / HTTP/1.1" 200 13`.

use std::fmt::Display;
use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

/// Where the server reports requests and errors. Each line is written with one call, so lines
/// from different workers never interleave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log {
    /// One access line per request.
    pub access: bool,
    /// Nothing at all, not even errors: for servers run inside a measurement or a test.
    pub quiet: bool,
}

impl Log {
    /// The log a server's options ask for.
    pub fn new(options: &crate::options::Options) -> Log {
        Log { access: options.log_requests && !options.quiet, quiet: options.quiet }
    }

    /// An access line: who, when, the request line, the status and the body bytes sent.
    pub fn access(&self, peer: IpAddr, request_line: impl Display, status: u16, bytes: u64) {
        if self.access {
            self.line(format_args!("{peer} - - [{}] \"{request_line}\" {status} {bytes}", timestamp()));
        }
    }

    /// A request the server refused, as wsgiref's `log_error` writes it.
    pub fn refused(&self, peer: IpAddr, status: u16, detail: &str) {
        self.line(format_args!("{peer} - - [{}] code {status}, message {detail}", timestamp()));
    }

    /// A mistake or a panic of the app, with the request it was handling.
    pub fn app_error(&self, request_line: impl Display, message: &str) {
        self.line(format_args!("[{}] app error on \"{request_line}\": {message}", timestamp()));
    }

    /// Any other message from the server.
    pub fn info(&self, message: &str) {
        self.line(format_args!("[{}] {message}", timestamp()));
    }

    fn line(&self, args: std::fmt::Arguments<'_>) {
        if !self.quiet {
            let text = format!("{args}\n");
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// `21/Nov/2026 10:24:03` (UTC), rearranged from the HTTP date `Sat, 21 Nov 2026 10:24:03 GMT`.
pub fn timestamp() -> String {
    let http = httpdate::fmt_http_date(SystemTime::now());
    let parts: Vec<&str> = http.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, time, _] => format!("{day}/{month}/{year} {time}"),
        _ => http,
    }
}
