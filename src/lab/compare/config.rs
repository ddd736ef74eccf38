//! What `compare` measures in one row: a [`Setup`] (wsgiref's single thread, or a pool of N
//! workers) and, for a pool, the [`Engine`] that runs it.

use crate::server::Engine;
use std::fmt;
use std::str::FromStr;

/// What `--threads` names: wsgiref's single thread, or a pool of N workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setup {
    /// Single-threaded mode.
    Single,
    /// Pool mode with this many workers.
    Threads(usize),
}

impl FromStr for Setup {
    type Err = String;

    /// `single`, or a number of workers from 1 to 1024.
    fn from_str(text: &str) -> Result<Setup, String> {
        match text.trim() {
            "single" => Ok(Setup::Single),
            n => match n.parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => Ok(Setup::Threads(n)),
                _ => Err(format!(
                    "{n:?} is not a configuration: give a number of threads (1 to 1024) or `single`"
                )),
            },
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setup::Single => f.write_str("single"),
            Setup::Threads(1) => f.write_str("1 thread"),
            Setup::Threads(n) => write!(f, "{n} threads"),
        }
    }
}

/// One server to measure: a [`Setup`] and the [`Engine`] that runs it.
///
/// A struct beside [`Setup`] rather than more variants in it: the engine is a second choice,
/// independent of the first (`--threads` × `--engine`), so each flag keeps its own small type
/// and parser, and a plain `Setup` still converts into a configuration on the default engine.
/// Single mode has no engine: [`Config::new`] stores the default one for it, and it is never
/// shown or compared.
///
/// ```
/// use wsgi_lab::Engine;
/// use wsgi_lab::lab::compare::{Config, Setup};
/// assert_eq!(Config::new(Setup::Threads(5), Engine::Handoff).to_string(), "5 threads (handoff)");
/// assert_eq!(Config::new(Setup::Single, Engine::Handoff), Config::from(Setup::Single));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Single mode or a pool of N workers.
    pub setup: Setup,
    /// The pool's engine; the default one in single mode, where it plays no part.
    pub engine: Engine,
}

impl Config {
    /// `setup` on `engine` (on the default engine if `setup` is single mode).
    pub fn new(setup: Setup, engine: Engine) -> Config {
        let engine = if setup == Setup::Single { Engine::default() } else { engine };
        Config { setup, engine }
    }

    /// Every setup on every engine, setup by setup (so the engines of one thread count sit
    /// side by side); single mode once, since it has no engine. Repeated engines count once; no
    /// engine at all means the default one.
    ///
    /// ```
    /// use wsgi_lab::Engine::{Handoff, Shared};
    /// use wsgi_lab::lab::compare::{Config, Setup};
    /// let labels: Vec<String> = Config::all(&[Setup::Single, Setup::Threads(2)], &[Shared, Handoff])
    ///     .iter()
    ///     .map(Config::to_string)
    ///     .collect();
    /// assert_eq!(labels, ["single", "2 threads (shared)", "2 threads (handoff)"]);
    /// ```
    pub fn all(setups: &[Setup], engines: &[Engine]) -> Vec<Config> {
        let engines = if engines.is_empty() { &[Engine::default()][..] } else { engines };
        let mut configs: Vec<Config> = Vec::new();
        for &setup in setups {
            let first = configs.len();
            for &engine in engines {
                // Single mode comes out the same on every engine, so once.
                let config = Config::new(setup, engine);
                if !configs[first..].contains(&config) {
                    configs.push(config);
                }
            }
        }
        configs
    }
}

impl From<Setup> for Config {
    /// The setup on the default engine.
    fn from(setup: Setup) -> Config {
        Config::new(setup, Engine::default())
    }
}

impl fmt::Display for Config {
    /// `single`, `1 thread (shared)`, `5 threads (handoff)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.setup {
            Setup::Single => write!(f, "{}", self.setup),
            Setup::Threads(_) => write!(f, "{} ({})", self.setup, self.engine.name()),
        }
    }
}
