//! `wsgi-lab serve`: the built-in apps on the production server or the dev server.
//!
//! The defaults live in [`Options::default()`]; an option left out here stays `None` and is
//! filled from there, so the command line repeats no default (the help prints them from there).

use super::{Failure, app_name, seconds};
use clap::Args;
use std::fmt::Display;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::lab::watch::Watch;
use wsgi_lab::proxy::ProxyPolicy;
use wsgi_lab::{App, DevServer, Engine, Error, Mode, Mount, Options, Server, UrlPrefix, apps};

/// The options only the production server has. With `--dev` they are refused (exit 2, one
/// line naming the option), never silently ignored: tiny_http has no timeouts, no limits, no
/// pool of workers and no stats.
const PRODUCTION_ONLY: [&str; 11] = [
    "threads",
    "engine",
    "header_timeout",
    "idle_timeout",
    "max_body",
    "max_header",
    "connection_limit",
    "backlog",
    "reuse_port",
    "watch",
    "single",
];

#[derive(Args, Debug)]
#[command(after_help = apps_help())]
pub struct ServeArgs {
    /// The built-in app to serve (listed below).
    #[arg(long, default_value = "hello", value_parser = app_name)]
    app: String,
    /// Interface to bind: 127.0.0.1 is this machine only; 0.0.0.0 is every interface.
    #[arg(long, default_value_t = Options::default().host)]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = Options::default().port)]
    port: u16,
    /// Single-threaded mode, as wsgiref: one request at a time, one per connection.
    #[arg(long, conflicts_with_all = ["threads", "engine"])]
    single: bool,
    /// Workers in pool mode [default: 2 × cores + 1, gunicorn's rule of thumb for worker
    /// processes; waitress's default is 4 threads].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    #[arg(long, value_name = "ENGINE", help = with_default(
        "Pool engine: shared (workers wait on epoll themselves) or handoff (waitress's: a poller \
         thread hands connections to the workers)",
        Options::default().engine.name(),
    ))]
    engine: Option<Engine>,
    /// The development server (tiny_http, contract validator on), as Flask's `app.run`. The
    /// production server's timeouts and limits are refused with it: tiny_http has none.
    #[arg(long, conflicts_with_all = PRODUCTION_ONLY)]
    dev: bool,
    /// With --dev: a panic shows its message and the request in the 500 page.
    #[arg(long, requires = "dev")]
    debug: bool,
    /// With --dev: answer one request at a time, on one thread (Werkzeug's threaded=False,
    /// `flask run --without-threads`). Without it, each request gets a thread, with no limit.
    #[arg(long, requires = "dev")]
    without_threads: bool,
    /// Mount the app under this URL prefix, such as /my-app (both servers): a path, with no `?`,
    /// `#`, `.` or `..` segment, space or control character.
    #[arg(long, value_name = "PREFIX", value_parser = UrlPrefix::parse)]
    url_prefix: Option<UrlPrefix>,
    /// The directory the `files` app serves.
    #[arg(long)]
    root: Option<std::path::PathBuf>,
    #[arg(long, value_name = "SECONDS", value_parser = seconds, help = with_default(
        "Seconds a client may take to send a request head (5, 2.5, 5s, 300ms)",
        secs(Options::default().header_timeout),
    ))]
    header_timeout: Option<Duration>,
    #[arg(long, value_name = "SECONDS", value_parser = seconds, help = with_default(
        "Seconds an idle keep-alive connection is kept",
        secs(Options::default().idle_timeout),
    ))]
    idle_timeout: Option<Duration>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "Largest request body in bytes",
        Options::default().max_request_body_size,
    ))]
    max_body: Option<u64>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "Largest request head in bytes",
        Options::default().max_request_header_size,
    ))]
    max_header: Option<usize>,
    #[arg(long, value_name = "N", help = with_default(
        "Open connections at most (pool mode)",
        Options::default().connection_limit,
    ))]
    connection_limit: Option<usize>,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help = with_default(
        "Connections the OS queues before the server accepts them (the listen backlog)",
        Options::default().backlog,
    ))]
    backlog: Option<u32>,
    /// Share the port with other servers started with --reuse-port (SO_REUSEPORT): the kernel
    /// spreads new connections among them, by a hash of their addresses, not by load.
    #[arg(long)]
    reuse_port: bool,
    /// The reverse proxy whose X-Forwarded-* headers are believed (both servers).
    #[arg(long, value_name = "IP")]
    trusted_proxy: Option<IpAddr>,
    /// Which proxy headers to believe, comma-separated (x-forwarded-for, x-forwarded-proto,
    /// x-forwarded-host, x-forwarded-port, x-forwarded-by, forwarded).
    #[arg(long, value_name = "NAMES", value_delimiter = ',', requires = "trusted_proxy")]
    trusted_proxy_headers: Vec<String>,
    /// Show what each worker is doing, live (implies --quiet).
    #[arg(long)]
    watch: bool,
    /// No access line per request.
    #[arg(long, short)]
    quiet: bool,
}

/// A help line that ends with the default, taken from [`Options::default()`].
fn with_default(help: &str, default: impl Display) -> String {
    format!("{help} [default: {default}]")
}

fn secs(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// The list of built-in apps that `serve --help` ends with, from [`apps::APPS`].
fn apps_help() -> String {
    let width = apps::APPS.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let lines: Vec<String> =
        apps::APPS.iter().map(|(name, about)| format!("  {name:width$}  {about}")).collect();
    format!(
        "Built-in apps (--app NAME):\n{}\n\nA parameter that is not a whole number, or is past its limit, \
         is answered 400 with its name and range.",
        lines.join("\n")
    )
}

/// The app to serve. A `--root` the `files` app cannot serve is a bad argument, as is a
/// `--root` for another app.
fn app(args: &ServeArgs) -> Result<Arc<dyn App>, Failure> {
    match (&args.root, args.app.as_str()) {
        (Some(root), "files") => {
            let files = apps::Files::new(root)
                .map_err(|e| Failure::Usage(format!("cannot serve --root {}: {e}", root.display())))?;
            Ok(Arc::new(files))
        }
        (Some(_), other) => Err(Failure::Usage(format!("--root is for the files app, not {other}"))),
        (None, name) => {
            apps::by_name(name).ok_or_else(|| Failure::Run(format!("cannot start the {name} app")))
        }
    }
}

/// A server that did not start: an option it cannot work with is a bad argument (exit 2); a
/// port in use or a host that does not resolve is a failure to run (exit 1).
fn not_started(error: Error) -> Failure {
    match error {
        Error::Config(message) => Failure::Usage(message),
        Error::Bind { ref source, .. } if source.kind() == ErrorKind::AddrInUse => {
            Failure::Run(format!("{error}; give --port 0 to pick a free one"))
        }
        other => Failure::Run(other.to_string()),
    }
}

pub fn serve(args: ServeArgs) -> Result<(), Failure> {
    let app = app(&args)?;
    if args.dev {
        return serve_dev(app, args);
    }
    let defaults = Options::default();
    let options = Options {
        host: args.host,
        port: args.port,
        threads: args.threads.map_or(defaults.threads, usize::from),
        engine: args.engine.unwrap_or(defaults.engine),
        url_prefix: args.url_prefix.unwrap_or(defaults.url_prefix),
        header_timeout: args.header_timeout.unwrap_or(defaults.header_timeout),
        idle_timeout: args.idle_timeout.unwrap_or(defaults.idle_timeout),
        max_request_body_size: args.max_body.unwrap_or(defaults.max_request_body_size),
        max_request_header_size: args.max_header.unwrap_or(defaults.max_request_header_size),
        connection_limit: args.connection_limit.unwrap_or(defaults.connection_limit),
        backlog: args.backlog.unwrap_or(defaults.backlog),
        reuse_port: args.reuse_port,
        trusted_proxy: args.trusted_proxy,
        trusted_proxy_headers: args.trusted_proxy_headers,
        log_requests: !(args.quiet || args.watch),
        ..defaults
    };
    let mode = if args.single { Mode::Single } else { Mode::Pool };
    let mut server = Server::bind(app, options, mode).map_err(not_started)?;
    println!("{}", server.startup_line());
    if args.app == "files" {
        println!("{}", apps::Files::serving(args.root.as_deref()));
    }
    let watch = args.watch.then(|| Watch::start(server.stats()));
    if let Some(watch) = &watch {
        // The view must draw its last frame before anything is printed below it, or its next
        // redraw would erase the shutdown lines: so with --watch, Ctrl+C stops the view first.
        let (stopper, handle) = (watch.stopper(), server.shutdown_handle());
        server = server.ctrl_c(false);
        ctrlc::set_handler(move || {
            if handle.is_requested() {
                std::process::exit(130); // a second Ctrl+C: now
            }
            stopper.stop();
            eprintln!("Shutting down (Ctrl+C again to quit at once)...");
            handle.shutdown();
        })
        .map_err(|e| format!("cannot catch Ctrl+C: {e}"))?;
    }
    let result = server.serve_forever().map_err(|e| Failure::Run(e.to_string()));
    drop(watch);
    result
}

/// The dev server with what it can honour: the prefix (an app wrapper, the same on both
/// servers), the trusted proxy, `--quiet`, `--without-threads`. The rest was refused by the
/// parser. No Ctrl+C handler: Ctrl+C ends the process at once, as it ends Werkzeug's.
fn serve_dev(app: Arc<dyn App>, args: ServeArgs) -> Result<(), Failure> {
    let prefix = args.url_prefix.unwrap_or_default();
    let app: Arc<dyn App> =
        if prefix.as_str().is_empty() { app } else { Arc::new(Mount::new(prefix.as_str(), app)) };
    let names: Vec<&str> = args.trusted_proxy_headers.iter().map(String::as_str).collect();
    let proxy = ProxyPolicy::new(args.trusted_proxy, &names).map_err(Failure::Usage)?;
    let server = DevServer::bind(app, &args.host, args.port, args.debug)
        .map_err(not_started)?
        .threaded(!args.without_threads)
        .log_requests(!args.quiet)
        .trust_proxy(proxy);
    // On stderr, as run_dev and Flask print it.
    eprintln!("{}", server.banner());
    if args.app == "files" {
        eprintln!(" * {}", apps::Files::serving(args.root.as_deref()));
    }
    if !prefix.as_str().is_empty() {
        let prefix = prefix.as_str();
        eprintln!(" * Mounted at {prefix}/: SCRIPT_NAME={prefix}; other paths get 404");
    }
    server.serve_forever().map_err(|e| Failure::Run(e.to_string()))
}
