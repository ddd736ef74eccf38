//! What a server shares with every connection while `serve_forever` runs: the app, the
//! server-level environ, the mount, the proxy policy, the log, the options and the live
//! counters. Built once per `serve_forever`, in one place, for both modes (wsgiref's server
//! builds its base environ once in `setup_environ`; every handler reads it).

use crate::app::App;
use crate::environ::ServerEnviron;
use crate::handler::Handler;
use crate::log::Log;
use crate::mount::UrlPrefix;
use crate::options::Options;
use crate::proxy::ProxyPolicy;
use crate::stats::Stats;
use std::net::SocketAddr;
use std::sync::Arc;

/// Everything a worker needs to answer a request, owned, so that pool threads can share it.
pub(crate) struct Serving {
    pub app: Arc<dyn App>,
    pub environ: ServerEnviron,
    pub prefix: UrlPrefix,
    pub proxy: ProxyPolicy,
    pub log: Log,
    pub options: Options,
    pub stats: Arc<Stats>,
}

impl Serving {
    /// `multithread` is `wsgi.multithread`: true in pool mode.
    pub fn new(
        app: Arc<dyn App>,
        addr: SocketAddr,
        options: &Options,
        proxy: ProxyPolicy,
        stats: Arc<Stats>,
        multithread: bool,
    ) -> Self {
        Serving {
            app,
            environ: ServerEnviron::new(addr, multithread),
            prefix: options.url_prefix.clone(),
            proxy,
            log: Log::new(options),
            options: options.clone(),
            stats,
        }
    }

    /// The request handler, borrowing these parts: building it costs nothing.
    pub fn handler(&self) -> Handler<'_> {
        Handler {
            app: self.app.as_ref(),
            environ: &self.environ,
            prefix: &self.prefix,
            proxy: &self.proxy,
            log: &self.log,
        }
    }
}
