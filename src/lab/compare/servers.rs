//! `compare --server NAME`: the real Python servers beside wsgi-lab, serving the same built-in
//! app (its twin in `examples/python/demo_apps.py`) at each thread count.
//!
//! Each Python server is a command template for the [`external`] machinery (started per row on
//! a free port of 127.0.0.1, measured once it answers, its process group stopped afterwards),
//! run in the environment that [`Python`] finds:
//!
//! | name | command (in `examples/python`) | rows |
//! |---|---|---|
//! | `waitress` | `waitress-serve --threads=N --host=127.0.0.1 --port=P demo_apps:APP` | one per thread count |
//! | `gunicorn` | `gunicorn --worker-class=gthread --workers=1 --threads=N ...` | one per thread count |
//! | `gunicorn-processes` | `gunicorn --worker-class=sync --workers=N ...` | one per count, of processes |
//! | `werkzeug` | `python serve.py werkzeug APP` (`run_simple(threaded=True)`, Flask's `app.run`) | one: a thread per connection |
//! | `wsgiref` | `python serve.py wsgiref APP` (`make_server`) | one: single-threaded |
//! | `wsgi-lab` | none: our own server, in this process, as plain `compare` runs it | one per thread count and engine |
//!
//! The rows are read as `compare --cmd` reads its commands, each server's scaling on its own
//! ([`grid_reading`](super::grid_reading)); the one-row servers get a line each, and computing work whose Python
//! threads did not scale gets the line that explains it: the interpreter lock ([`reading`]).

use super::external::{self, Started};
use super::{Config, Row, Setup, Workload, cores, render};
use crate::python::Python;
use crate::server::Engine;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

mod reading;

pub use reading::reading;

/// A server `compare --server` knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// waitress, `threads=N`: one process, a pool of N threads.
    Waitress,
    /// gunicorn's `gthread` worker class: one worker process with N threads.
    Gunicorn,
    /// gunicorn's `sync` worker class: N worker processes, one request each at a time.
    GunicornProcesses,
    /// Werkzeug's development server, as Flask's `app.run` starts it (`threaded=True`).
    Werkzeug,
    /// The standard library's `wsgiref.simple_server`: one request at a time.
    Wsgiref,
    /// wsgi-lab's own server, in this process.
    WsgiLab,
}

/// How a server's rows vary with `--threads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// A row per thread count: N threads in one process.
    Threads,
    /// A row per count: N processes.
    Processes,
    /// One row: a new thread for every connection, as many as there are.
    PerConnection,
    /// One row: a single thread.
    Single,
    /// A row per thread count and engine, `single` included: wsgi-lab's own configurations.
    Ours,
}

impl Server {
    /// Every server, in the order `--help` lists them.
    pub const ALL: [Server; 6] = [
        Server::Waitress,
        Server::Gunicorn,
        Server::GunicornProcesses,
        Server::Werkzeug,
        Server::Wsgiref,
        Server::WsgiLab,
    ];

    /// The apps of `examples/python/demo_apps.py`: the built-in apps a Python server can serve.
    pub const PYTHON_APPS: [&str; 5] = ["hello", "sleep", "cpu", "echo", "stream"];

    /// Its name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Server::Waitress => "waitress",
            Server::Gunicorn => "gunicorn",
            Server::GunicornProcesses => "gunicorn-processes",
            Server::Werkzeug => "werkzeug",
            Server::Wsgiref => "wsgiref",
            Server::WsgiLab => "wsgi-lab",
        }
    }

    /// How its rows vary with `--threads`.
    pub fn workers(self) -> Workers {
        match self {
            Server::Waitress | Server::Gunicorn => Workers::Threads,
            Server::GunicornProcesses => Workers::Processes,
            Server::Werkzeug => Workers::PerConnection,
            Server::Wsgiref => Workers::Single,
            Server::WsgiLab => Workers::Ours,
        }
    }

    /// Whether it runs in the Python environment.
    pub fn is_python(self) -> bool {
        self != Server::WsgiLab
    }

    /// The configurations it runs, from `--threads` and `--engine`: a thread server takes the
    /// thread counts (not `single`, a mode it does not have), a one-row server its one setup
    /// (`single`, which [`label`] names), wsgi-lab every setup on every engine.
    ///
    /// ```
    /// use wsgi_lab::lab::compare::{Setup, servers::Server};
    /// let setups = [Setup::Single, Setup::Threads(2)];
    /// assert_eq!(Server::Waitress.configs(&setups, &[]).len(), 1);
    /// assert_eq!(Server::Wsgiref.configs(&setups, &[])[0].setup, Setup::Single);
    /// assert_eq!(Server::WsgiLab.configs(&setups, &[]).len(), 2);
    /// ```
    pub fn configs(self, setups: &[Setup], engines: &[Engine]) -> Vec<Config> {
        match self.workers() {
            Workers::Threads | Workers::Processes => {
                setups.iter().filter(|s| **s != Setup::Single).map(|&s| Config::from(s)).collect()
            }
            Workers::PerConnection | Workers::Single => vec![Config::from(Setup::Single)],
            Workers::Ours => Config::all(setups, engines),
        }
    }

    /// The command template (`{threads}` and `{port}` left for [`external`]) that serves `app`
    /// from `demo_apps.py` in `python`'s environment, on 127.0.0.1 only (waitress-serve binds
    /// 0.0.0.0 unless told); `None` for wsgi-lab, which runs in this process. `exec` makes the
    /// server the process `sh` started, so the process group holds the server and its workers.
    pub fn command(self, python: &Python, app: &str) -> Option<String> {
        let dir = quote(&Python::examples_dir().display().to_string());
        let script = |name: &str| quote(&python.script(name).display().to_string());
        let interpreter = quote(&python.interpreter().display().to_string());
        // No control socket: gunicorn 27 otherwise makes one at ~/.gunicorn/gunicorn.ctl, one
        // path for every instance, which a row would leave behind or take from another.
        let gunicorn = |workers: &str| {
            let gunicorn = script("gunicorn");
            format!("{gunicorn} {workers} --bind=127.0.0.1:{{port}} --no-control-socket demo_apps:{app}")
        };
        let server = match self {
            Server::Waitress => format!(
                "{} --threads={{threads}} --host=127.0.0.1 --port={{port}} demo_apps:{app}",
                script("waitress-serve")
            ),
            Server::Gunicorn => gunicorn("--worker-class=gthread --workers=1 --threads={threads}"),
            Server::GunicornProcesses => gunicorn("--worker-class=sync --workers={threads}"),
            Server::Werkzeug => format!("{interpreter} serve.py werkzeug {app} --port={{port}}"),
            Server::Wsgiref => format!("{interpreter} serve.py wsgiref {app} --port={{port}}"),
            Server::WsgiLab => return None,
        };
        Some(format!("cd {dir} && exec {server}"))
    }

    /// The processes it runs with `n` workers once ready: gunicorn's arbiter and its workers
    /// (the arbiter listens before it forks them, a tenth of a second apart at random), one
    /// otherwise.
    fn processes(self, n: usize) -> usize {
        match self {
            Server::Gunicorn => 2,
            Server::GunicornProcesses => n + 1,
            _ => 1,
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Server {
    type Err = String;

    /// A name of [`Server::ALL`]; anything else is refused with the list.
    fn from_str(text: &str) -> Result<Server, String> {
        let text = text.trim();
        Server::ALL.into_iter().find(|s| s.name() == text).ok_or_else(|| {
            let names: Vec<&str> = Server::ALL.iter().map(|s| s.name()).collect();
            format!("no server {text:?}; choose among {}", names.join(", "))
        })
    }
}

/// How a row of `server` is named in the table and the exports: `waitress, 4 threads`,
/// `gunicorn-processes, 4 processes`, `werkzeug, a thread per connection`, `wsgiref, single`;
/// a command of `--cmd` as `waitress-serve, 4 threads`; a URL of `--url` as itself.
///
/// ```
/// use wsgi_lab::lab::compare::{Setup, servers::label};
/// assert_eq!(label("gunicorn-processes", Setup::Threads(1)), "gunicorn-processes, 1 process");
/// assert_eq!(label("werkzeug", Setup::Single), "werkzeug, a thread per connection");
/// assert_eq!(label("http://127.0.0.1:8080/", Setup::Single), "http://127.0.0.1:8080/");
/// ```
pub fn label(server: &str, setup: Setup) -> String {
    match (server.parse::<Server>().map(Server::workers), setup) {
        (Ok(Workers::Processes), Setup::Threads(1)) => format!("{server}, 1 process"),
        (Ok(Workers::Processes), Setup::Threads(n)) => format!("{server}, {n} processes"),
        (Ok(Workers::PerConnection), _) => format!("{server}, a thread per connection"),
        (Ok(Workers::Single), _) => format!("{server}, single"),
        (Ok(Workers::Ours), setup) => format!("{server}, {setup}"),
        (_, Setup::Single) => server.to_string(),
        (_, setup) => format!("{server}, {setup}"),
    }
}

/// The servers to measure and what each runs: `compare --server`'s plan, checked before
/// anything starts.
///
/// ```no_run
/// use std::{sync::Arc, time::Duration};
/// use wsgi_lab::{apps, python::Python};
/// use wsgi_lab::lab::compare::{Setup, Workload, servers::{Lineup, Server}};
/// // `compare --app cpu --server waitress,gunicorn-processes,wsgi-lab --threads 1,2,4`
/// let servers = [Server::Waitress, Server::GunicornProcesses, Server::WsgiLab];
/// let setups = [Setup::Threads(1), Setup::Threads(2), Setup::Threads(4)];
/// let lineup = Lineup::new(&servers, "cpu", &setups, &[])?;
/// let workload = Workload {
///     app: Arc::new(apps::cpu), path: "/?n=1000000".into(), connections: 10,
///     duration: Duration::from_secs(2), progress: false,
/// };
/// let python = Python::find(None)?;
/// lineup.compare(&workload, &[10], Some(&python), &mut std::io::stdout(), false)?;
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lineup {
    /// The built-in app, served by its twin of the same name in `demo_apps.py`.
    pub app: String,
    /// Each server with its configurations, in the order given.
    pub servers: Vec<(Server, Vec<Config>)>,
}

impl Lineup {
    /// The plan for `servers` (repeats count once): an error, a bad argument, when a Python
    /// server is asked for an app `demo_apps.py` does not have, or when a server would get no
    /// row (`--threads single` for waitress).
    pub fn new(
        servers: &[Server],
        app: &str,
        setups: &[Setup],
        engines: &[Engine],
    ) -> Result<Lineup, String> {
        let mut planned: Vec<(Server, Vec<Config>)> = Vec::new();
        for &server in servers {
            if planned.iter().any(|(s, _)| *s == server) {
                continue;
            }
            if server.is_python() && !Server::PYTHON_APPS.contains(&app) {
                return Err(format!(
                    "{server} serves the apps of examples/python/demo_apps.py ({}), not {app}",
                    Server::PYTHON_APPS.join(", ")
                ));
            }
            let configs = server.configs(setups, engines);
            if configs.is_empty() {
                return Err(format!("{server} has no single-threaded mode: give --threads a thread count"));
            }
            planned.push((server, configs));
        }
        Ok(Lineup { app: app.to_string(), servers: planned })
    }

    /// Whether any of its servers runs in the Python environment.
    pub fn needs_python(&self) -> bool {
        self.servers.iter().any(|(s, _)| s.is_python())
    }

    /// wsgi-lab's configurations, for the header's engines.
    pub fn ours(&self) -> Vec<Config> {
        self.servers.iter().filter(|(s, _)| *s == Server::WsgiLab).flat_map(|(_, c)| c.clone()).collect()
    }

    /// Measures every row, connection count by connection count, server by server, then prints
    /// the table, the chart and the [`reading`]. `python` is needed when
    /// [`needs_python`](Lineup::needs_python).
    pub fn compare(
        &self,
        workload: &Workload,
        connections: &[usize],
        python: Option<&Python>,
        out: &mut dyn Write,
        color: bool,
    ) -> Result<Vec<Row>, String> {
        let mut rows = Vec::new();
        for &connections in connections {
            let workload = Workload { connections, ..workload.clone() };
            for (server, configs) in &self.servers {
                for &config in configs {
                    rows.push(self.measure(&workload, *server, config, python)?);
                }
            }
        }
        let text = reading(&rows, self.app == "cpu", cores());
        write!(out, "{}\n{text}\n", render(&rows, color)).map_err(|e| e.to_string())?;
        Ok(rows)
    }

    /// One row: wsgi-lab's in this process, a Python server's through [`external`].
    fn measure(
        &self,
        workload: &Workload,
        server: Server,
        config: Config,
        python: Option<&Python>,
    ) -> Result<Row, String> {
        if server == Server::WsgiLab {
            let mut row = super::measure(workload, config)?;
            // Named with its engine when another than the default runs: the label then says
            // which, since a server's rows (ours among them here) never name an engine.
            let engines = self.ours().iter().any(|c| c.engine != Engine::default());
            row.server = Some(match engines && config.setup != Setup::Single {
                true => format!("wsgi-lab ({})", config.engine.name()),
                false => "wsgi-lab".to_string(),
            });
            return Ok(row);
        }
        let python =
            python.ok_or_else(|| format!("{server} runs in the Python environment: none was given"))?;
        let template = server.command(python, &self.app).expect("a Python server has a command");
        let n = match config.setup {
            Setup::Threads(n) => n,
            Setup::Single => 1,
        };
        let mut started = Started::start(&template, n)?;
        started.ready(server.processes(n), &workload.path)?;
        let url = format!("http://127.0.0.1:{}{}", started.port, workload.path);
        let label = label(server.name(), config.setup);
        let row = external::bench_row(workload, url, config, server.name().to_string(), &label);
        drop(started); // stopped before the next row starts; also on an error, by the guard
        row
    }
}

/// `'it''s'` for the shell: the text in single quotes, each of its own as `'\''`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
