//! Why a bench could not run: the one error type of `bench`. A bench that ran reports its
//! failed requests in the report instead ([`ErrorKind`](super::ErrorKind)); these are the
//! reasons it could not start at all.

use std::{fmt, io, net::SocketAddr};

/// Why a bench could not run. Each says its cause in one line.
///
/// ```
/// use wsgi_lab::lab::bench::{run, BenchConfig};
/// let error = run(&BenchConfig::new("http://example.com/")).unwrap_err();
/// assert_eq!(error.to_string(), "bad URL \"http://example.com/\": the host must be an IP address or localhost");
/// ```
#[derive(Debug)]
pub enum BenchError {
    /// The URL is not one the bench can aim at.
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting is out of range (no connections, zero requests, a header with a newline...).
    Settings(String),
    /// Not one connection could be opened: nothing listens there, or it cannot be reached.
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Url { url, reason } => write!(f, "bad URL {url:?}: {reason}"),
            BenchError::Settings(reason) => write!(f, "bad bench settings: {reason}"),
            BenchError::Connect { addr, source } => {
                write!(f, "cannot connect to {addr} ({source}): is a server listening there?")
            }
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Connect { source, .. } => Some(source),
            _ => None,
        }
    }
}
