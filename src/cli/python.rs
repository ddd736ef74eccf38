//! `wsgi-lab python setup`: the real Python servers, installed beside their twins
//! ([`Python::setup`]).

use super::{Failure, Output};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use wsgi_lab::python::{ENV_VAR, PINS, Python};

#[derive(Args, Debug)]
pub struct PythonArgs {
    #[command(subcommand)]
    command: PythonCommand,
}

#[derive(Subcommand, Debug)]
enum PythonCommand {
    #[command(long_about = setup_help())]
    /// Create the Python environment (target/python) with pinned waitress, Flask and gunicorn;
    /// run again, it only checks the versions.
    Setup {
        /// Create it in DIR instead (then name DIR/bin/python with --python or WSGI_LAB_PYTHON).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `setup --help`: what it installs, where, and how the other commands find it.
fn setup_help() -> String {
    let pins: Vec<String> = PINS.iter().map(|(name, version)| format!("{name} {version}")).collect();
    format!(
        "Create a Python virtual environment at {} (the repository's target/ folder, fixed when \
         wsgi-lab was built) with python3's venv module, and install from PyPI: {}. Run again, it \
         checks the versions and installs nothing. The commands that run Python find it there; \
         --python PATH or {ENV_VAR} names another environment's interpreter instead.",
        Python::default_dir().display(),
        pins.join(", ")
    )
}

/// `wsgi-lab python ...`.
pub fn python(args: PythonArgs, output: Output) -> Result<(), Failure> {
    match args.command {
        PythonCommand::Setup { dir } => {
            // --python names an environment to use; setup makes one: taking both would leave
            // the user unsure which was meant.
            if output.python.is_some() {
                let message = "--python names an environment to use; `python setup` creates one \
                               (use --dir to choose where)";
                return Err(Failure::Usage(message.into()));
            }
            let progress = output.progress && std::io::stderr().is_terminal();
            let python = match &dir {
                Some(dir) => Python::setup_in(dir, progress)?,
                None => Python::setup(progress)?,
            };
            println!("{}", python.interpreter().display());
            Ok(())
        }
    }
}
