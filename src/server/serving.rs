//! What a server shares with every connection while `serve_forever` runs: the app, the
//! server-level environ, the mount, the proxy policy, the log, the options and the live
//! counters. Built once per `serve_forever`, in one place, for both modes (wsgiref's server
//! builds its base environ once in `setup_environ`; every handler reads it).

use super::{Mode, Server};
use crate::app::App;
use crate::environ::ServerEnviron;
use crate::handler::Handler;
use crate::log::Log;
use crate::options::Options;
use crate::proxy::ProxyPolicy;
use crate::stats::Stats;
use std::sync::Arc;

/// Everything a worker needs to answer a request, owned, so that pool threads can share it.
pub(crate) struct Serving {
    pub app: Arc<dyn App>,
    pub environ: ServerEnviron,
    pub proxy: ProxyPolicy,
    pub log: Log,
    pub options: Options,
    pub stats: Arc<Stats>,
    /// Whether a connection stays open for the next request: in pool mode. wsgiref's single
    /// mode closes it after one.
    pub keep_alive: bool,
}

impl Serving {
    /// What `server` shares while it serves, for either mode.
    pub fn new(server: &Server) -> Self {
        Serving {
            app: server.app.clone(),
            // `wsgi.multithread`: true in pool mode.
            environ: ServerEnviron::new(server.addr, server.mode == Mode::Pool),
            proxy: server.proxy.clone(),
            log: Log::new(&server.options),
            options: server.options.clone(),
            stats: server.stats.clone(),
            keep_alive: server.mode == Mode::Pool,
        }
    }

    /// The request handler, borrowing these parts: building it costs nothing.
    pub fn handler(&self) -> Handler<'_> {
        Handler {
            app: self.app.as_ref(),
            environ: &self.environ,
            prefix: &self.options.url_prefix,
            proxy: &self.proxy,
            log: &self.log,
        }
    }
}
