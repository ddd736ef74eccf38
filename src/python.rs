//! The real Python beside the twin: a virtual environment with the servers wsgi-lab rebuilds
//! (waitress, Flask with its Werkzeug, gunicorn), so that the tutorials' own programs in
//! `examples/python/` can run next to their Rust twins and be measured with them.
//!
//! `wsgi-lab python setup` ([`Python::setup`]) creates the environment at
//! `<repo>/target/python`, where `<repo>` is the crate's directory when it was compiled
//! (`CARGO_MANIFEST_DIR`), and installs the versions of [`PINS`] from PyPI. Run again, it only
//! checks them. Everything that runs Python then finds it with [`Python::find`], with no
//! configuration; `--python PATH` or `$WSGI_LAB_PYTHON` ([`ENV_VAR`]) names another
//! environment's interpreter instead. (`cargo clean` deletes `target/`, this environment with
//! it; the next setup makes it again.)
//!
//! ```no_run
//! use wsgi_lab::python::Python;
//!
//! let python = Python::find(None)?; // or Python::setup(false)? to create it first
//! let waitress = std::process::Command::new(python.script("waitress-serve"))
//!     .args(["--host=127.0.0.1", "--port=8080", "demo_apps:hello"])
//!     .current_dir(Python::examples_dir())
//!     .spawn();
//! # Ok::<(), String>(())
//! ```

use indicatif::{ProgressBar, ProgressStyle};
use std::fs::{File, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What the environment holds, as `(name, version)`: the three servers, then what they bring
/// along, every one pinned so that two machines measure the same Python. The one place the
/// versions are written; `setup` installs exactly these and `find` checks them.
///
/// ```
/// use wsgi_lab::python::PINS;
/// assert!(PINS.contains(&("waitress", "3.0.2")));
/// ```
pub const PINS: [(&str, &str); 9] = [
    ("waitress", "3.0.2"),
    ("Flask", "3.1.3"),
    ("Werkzeug", "3.1.9"), // Flask's server (`app.run`) and request handling
    ("gunicorn", "27.0.1"),
    // Flask's other dependencies, at the versions these pins resolved to.
    ("Jinja2", "3.1.6"),
    ("MarkupSafe", "3.0.4"),
    ("itsdangerous", "2.2.0"),
    ("click", "8.5.1"),
    ("blinker", "1.9.0"),
];

/// How many of [`PINS`] the project uses directly (the rest come with Flask): what an
/// environment named by `--python` must have, at any version.
const SERVERS: usize = 4;

/// The environment variable that names another interpreter, as `--python` does.
pub const ENV_VAR: &str = "WSGI_LAB_PYTHON";

/// Asks an interpreter where it is and which of the packages named as arguments it has:
/// `sys.executable` on the first line, then `name version` or `name -` per package.
const INVENTORY: &str = "\
import sys
from importlib.metadata import PackageNotFoundError, version
print(sys.executable)
for name in sys.argv[1:]:
    try:
        print(name, version(name))
    except PackageNotFoundError:
        print(name, '-')
";

/// The interpreter of an environment with waitress, Flask and gunicorn.
///
/// ```no_run
/// use wsgi_lab::python::Python;
/// let python = Python::find(None)?;
/// assert!(python.script("gunicorn").ends_with("bin/gunicorn"));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone)]
pub struct Python {
    /// As the interpreter reports it (`sys.executable`), not resolved further: a virtual
    /// environment's `bin/python` is a link to the base interpreter, whose folder has none of
    /// the environment's console scripts.
    interpreter: PathBuf,
}

impl Python {
    /// `explicit` (`--python`), else `$WSGI_LAB_PYTHON`, else `<repo>/target/python/bin/python`;
    /// checks that it runs and has the packages (the default environment, at the versions of
    /// [`PINS`]); else `Err` with one line saying how to get it (`wsgi-lab python setup`).
    pub fn find(explicit: Option<&Path>) -> Result<Python, String> {
        let from_env = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (interpreter, origin) = match (explicit, from_env) {
            (Some(path), _) => (path.to_path_buf(), "--python"),
            (None, Some(path)) => (path, ENV_VAR),
            (None, None) => return Python::at_default(),
        };
        let fix = format!("give {origin} a python whose environment has waitress, Flask and gunicorn");
        let (python, found) = inventory(&interpreter).map_err(|e| format!("{origin} {e}; {fix}"))?;
        let missing: Vec<&str> = PINS[..SERVERS]
            .iter()
            .filter(|(name, _)| found.get(name).is_none())
            .map(|(name, _)| *name)
            .collect();
        match missing.is_empty() {
            true => Ok(python),
            false => Err(format!(
                "{origin} {} lacks {}: pip install them there, or leave {origin} out to use \
                 `wsgi-lab python setup`'s environment",
                interpreter.display(),
                missing.join(", ")
            )),
        }
    }

    /// Creates or checks the default environment, `<repo>/target/python` (idempotent): when it
    /// already has [`PINS`], says so and installs nothing. Reports each step on stderr, with a
    /// spinner when `progress` (on a terminal), as plain lines otherwise.
    pub fn setup(progress: bool) -> Result<Python, String> {
        Python::setup_in(&Python::default_dir(), progress)
    }

    /// [`setup`](Python::setup) in another directory, for a shared classroom environment or a
    /// test that must not touch the default one. [`find`](Python::find) does not look there:
    /// name its `bin/python` with `--python` or `$WSGI_LAB_PYTHON`.
    pub fn setup_in(dir: &Path, progress: bool) -> Result<Python, String> {
        let started = Instant::now();
        let steps = Steps::new(progress);
        // Two setups at once (tests run in parallel) would both run pip in the same folder:
        // the second waits, then finds the environment ready.
        let _lock = lock(dir, &steps)?;
        let interpreter = dir.join("bin/python");
        if let Ok(python) = pinned(&interpreter) {
            steps.finish(&format!(
                "already set up, nothing installed: {} ({})",
                dir.display(),
                pins(SERVERS)
            ));
            return Ok(python);
        }
        // Its own pip is what makes a folder an environment we can install into; without it,
        // whatever is there (an interrupted setup, an older python) is made anew.
        if !succeeds(Command::new(&interpreter).args(["-m", "pip", "--version"])) {
            steps.step(&format!("creating the virtual environment {}", dir.display()));
            create_venv(dir)?;
        }
        steps.step(&format!("installing {} (and what Flask needs) from PyPI", pins(SERVERS)));
        let wanted: Vec<String> = PINS.iter().map(|(name, version)| format!("{name}=={version}")).collect();
        let install = Command::new(&interpreter)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"])
            .args(&wanted)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", interpreter.display()))?;
        if !install.status.success() {
            return Err(format!("pip could not install the pinned packages: {}", last_line(&install)));
        }
        let python = pinned(&interpreter)?;
        let seconds = started.elapsed().as_secs_f64();
        steps.finish(&format!("set up in {seconds:.0} s: {} ({})", dir.display(), pins(SERVERS)));
        Ok(python)
    }

    /// The interpreter, to run a program with.
    ///
    /// ```no_run
    /// use wsgi_lab::python::Python;
    /// let python = Python::setup(false)?;
    /// let hello = std::process::Command::new(python.interpreter())
    ///     .arg(Python::examples_dir().join("hello_wsgi.py"))
    ///     .env("PORT", "0")
    ///     .spawn();
    /// # Ok::<(), String>(())
    /// ```
    pub fn interpreter(&self) -> &Path {
        &self.interpreter
    }

    /// A console script installed next to the interpreter: `waitress-serve`, `gunicorn`,
    /// `flask`.
    pub fn script(&self, name: &str) -> PathBuf {
        self.interpreter.parent().unwrap_or(Path::new("")).join(name)
    }

    /// The repo's `examples/python` directory (where the Python programs are).
    ///
    /// ```
    /// let dir = wsgi_lab::python::Python::examples_dir();
    /// assert!(dir.join("demo_apps.py").is_file());
    /// ```
    pub fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python")
    }

    /// Where [`setup`](Python::setup) makes the environment: `<repo>/target/python`.
    ///
    /// ```
    /// assert!(wsgi_lab::python::Python::default_dir().ends_with("target/python"));
    /// ```
    pub fn default_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python")
    }

    /// The default environment, with the pinned versions.
    fn at_default() -> Result<Python, String> {
        let dir = Python::default_dir();
        let interpreter = dir.join("bin/python");
        if !interpreter.exists() {
            return Err(format!(
                "no Python environment at {}: run `wsgi-lab python setup` (or give --python or \
                 {ENV_VAR} a python that has waitress, Flask and gunicorn)",
                dir.display()
            ));
        }
        pinned(&interpreter).map_err(|e| format!("{e}: run `wsgi-lab python setup`"))
    }
}

/// The interpreter, when it runs and has every package of [`PINS`] at its version; else what
/// differs, in one line.
fn pinned(interpreter: &Path) -> Result<Python, String> {
    let (python, found) = inventory(interpreter)?;
    let wrong: Vec<String> = PINS
        .iter()
        .filter_map(|&(name, version)| match found.get(name) {
            Some(v) if v == version => None,
            Some(v) => Some(format!("{name} {v}, not {version}")),
            None => Some(format!("no {name}")),
        })
        .collect();
    match wrong.is_empty() {
        true => Ok(python),
        false => Err(format!("{} has {}", interpreter.display(), wrong.join(", "))),
    }
}

/// The versions installed, by name.
struct Found(Vec<(String, String)>);

impl Found {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Runs [`INVENTORY`] with every name of [`PINS`].
fn inventory(interpreter: &Path) -> Result<(Python, Found), String> {
    let shown = interpreter.display();
    let output = Command::new(interpreter)
        .arg("-c")
        .arg(INVENTORY)
        .args(PINS.iter().map(|(name, _)| name))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{shown} failed to list its packages (Python 3.8 or later?): {}",
            last_line(&output)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let executable = lines.next().filter(|l| !l.is_empty()).map(PathBuf::from);
    let found = lines
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, version)| *version != "-")
        .map(|(name, version)| (name.to_string(), version.to_string()))
        .collect();
    // An embedded interpreter may not know its own path (an empty `sys.executable`).
    let interpreter = executable.unwrap_or_else(|| interpreter.to_path_buf());
    Ok((Python { interpreter }, Found(found)))
}

/// `python3 -m venv --clear DIR`, with a one-line error for the two usual reasons it fails:
/// no `python3`, or a Debian `python3` without `python3-venv` (no `venv`, or no `ensurepip`).
fn create_venv(dir: &Path) -> Result<(), String> {
    let no_venv = "python3 cannot create virtual environments: install its venv module (Debian: apt-get install python3-venv)";
    let created = match Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
    {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err("python3 not found on PATH: install Python 3 and its venv module (Debian: apt-get \
                        install python3 python3-venv)"
                .into());
        }
        Err(e) => return Err(format!("cannot run python3: {e}")),
        Ok(output) => output,
    };
    if created.status.success() {
        return Ok(());
    }
    // Nothing half-made stays behind to be mistaken for an environment.
    let _ = std::fs::remove_dir_all(dir);
    let said =
        format!("{}{}", String::from_utf8_lossy(&created.stdout), String::from_utf8_lossy(&created.stderr));
    match said.contains("ensurepip") || said.contains("No module named venv") {
        true => Err(no_venv.into()),
        false => Err(format!("python3 -m venv failed: {}", last_line(&created))),
    }
}

/// Holds `DIR.lock` (beside the environment, which `venv --clear` may empty) for as long as
/// the returned file lives.
fn lock(dir: &Path, steps: &Steps) -> Result<File, String> {
    let path = dir.with_extension("lock");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let file = File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(TryLockError::WouldBlock) => steps.step("waiting for another `python setup` to finish"),
        Err(TryLockError::Error(e)) => return Err(format!("cannot lock {}: {e}", path.display())),
    }
    file.lock().map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

/// `waitress 3.0.2, Flask 3.1.3, ...`: the first `n` pins.
fn pins(n: usize) -> String {
    PINS[..n].iter().map(|(name, version)| format!("{name} {version}")).collect::<Vec<_>>().join(", ")
}

/// Whether the command ran and exited 0, its output unseen.
fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The last line a failed command printed (stderr first), for a one-line error.
fn last_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = |text: &str| text.lines().map(str::trim).rfind(|l| !l.is_empty()).map(String::from);
    last(&stderr)
        .or_else(|| last(&stdout))
        .unwrap_or_else(|| format!("it printed nothing ({})", output.status))
}

/// How setup shows its steps: a spinner naming the step, or one plain line per step.
struct Steps(Option<ProgressBar>);

impl Steps {
    fn new(progress: bool) -> Steps {
        Steps(progress.then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} python setup: {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        }))
    }

    fn step(&self, what: &str) {
        match &self.0 {
            Some(spinner) => spinner.set_message(what.to_string()),
            None => eprintln!("python setup: {what}"),
        }
    }

    /// The last line, which stays: the spinner is erased first.
    fn finish(&self, what: &str) {
        if let Some(spinner) = &self.0 {
            spinner.finish_and_clear();
        }
        eprintln!("python setup: {what}");
    }
}

impl Drop for Steps {
    /// An error ends the setup early: the spinner goes, and the error is printed by the caller.
    fn drop(&mut self) {
        if let Some(spinner) = &self.0 {
            spinner.finish_and_clear();
        }
    }
}
