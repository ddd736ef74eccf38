//! `wsgi-lab serve`: the built-in apps on the production server or the dev server.

use super::seconds;
use clap::Args;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::lab::watch::Watch;
use wsgi_lab::{App, DevServer, Mode, Options, Server, apps};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The built-in app to serve.
    #[arg(long, default_value = "hello", value_parser = app_name)]
    app: String,
    /// Interface to bind: 127.0.0.1 is this machine only; 0.0.0.0 is every interface.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Single-threaded mode, as wsgiref: one request at a time, one per connection.
    #[arg(long, conflicts_with_all = ["threads", "dev"])]
    single: bool,
    /// Workers in pool mode [default: 2 × cores + 1].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// The development server (tiny_http, contract validator on), as Flask's `app.run`.
    #[arg(long)]
    dev: bool,
    /// With --dev: a panic shows its message and the request in the 500 page.
    #[arg(long, requires = "dev")]
    debug: bool,
    /// Mount the app under this URL prefix, such as /my-app.
    #[arg(long, default_value = "")]
    url_prefix: String,
    /// The directory the `files` app serves.
    #[arg(long)]
    root: Option<std::path::PathBuf>,
    /// Seconds a client may take to send a request head.
    #[arg(long, default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds an idle keep-alive connection is kept.
    #[arg(long, default_value = "5", value_parser = seconds)]
    idle_timeout: Duration,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_body: u64,
    /// Largest request head in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_header: usize,
    /// Open connections at most (pool mode).
    #[arg(long, default_value_t = 2048)]
    connection_limit: usize,
    /// The reverse proxy whose X-Forwarded-* headers are believed.
    #[arg(long)]
    trusted_proxy: Option<IpAddr>,
    /// Which proxy headers to believe, comma-separated (x-forwarded-for, x-forwarded-proto,
    /// x-forwarded-host, x-forwarded-port, x-forwarded-by, forwarded).
    #[arg(long, value_delimiter = ',', requires = "trusted_proxy")]
    trusted_proxy_headers: Vec<String>,
    /// Show what each worker is doing, live (implies --quiet).
    #[arg(long)]
    watch: bool,
    /// No access line per request.
    #[arg(long, short)]
    quiet: bool,
}

fn app_name(name: &str) -> Result<String, String> {
    match apps::APPS.iter().any(|(n, _)| *n == name) {
        true => Ok(name.to_string()),
        false => {
            let names: Vec<&str> = apps::APPS.iter().map(|(n, _)| *n).collect();
            Err(format!("no built-in app {name:?}; choose one of {}", names.join(", ")))
        }
    }
}

fn app(args: &ServeArgs) -> Result<Arc<dyn App>, String> {
    match (&args.root, args.app.as_str()) {
        (Some(root), "files") => {
            let files =
                apps::Files::new(root).map_err(|e| format!("cannot serve {}: {e}", root.display()))?;
            Ok(Arc::new(files))
        }
        (Some(_), other) => Err(format!("--root is for the files app, not {other}")),
        (None, name) => apps::by_name(name).ok_or_else(|| format!("cannot start the {name} app")),
    }
}

pub fn serve(args: ServeArgs) -> Result<(), String> {
    let app = app(&args)?;
    if args.dev {
        let server = DevServer::bind(app, &args.host, args.port, args.debug).map_err(|e| e.to_string())?;
        // On stderr, as run_dev and Flask print it.
        eprintln!("{}", server.banner());
        return server.serve_forever().map_err(|e| e.to_string());
    }
    let options = Options {
        host: args.host,
        port: args.port,
        threads: args.threads.map_or_else(wsgi_lab::server::default_threads, usize::from),
        url_prefix: args.url_prefix,
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        max_request_body_size: args.max_body,
        max_request_header_size: args.max_header,
        connection_limit: args.connection_limit,
        trusted_proxy: args.trusted_proxy,
        trusted_proxy_headers: args.trusted_proxy_headers,
        log_requests: !(args.quiet || args.watch),
        ..Options::default()
    };
    let mode = if args.single { Mode::Single } else { Mode::Pool };
    let server = Server::bind(app, options, mode).map_err(|e| e.to_string())?;
    println!("{}", server.startup_line());
    let watch = args.watch.then(|| Watch::start(server.stats()));
    let result = server.serve_forever().map_err(|e| e.to_string());
    drop(watch);
    result
}
