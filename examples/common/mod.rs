//! What every example shares: the port it listens on, and how it fails. (A folder with a
//! `mod.rs`, so cargo does not take it for an example of its own.)

use std::env::VarError;
use std::io::ErrorKind;
use std::process::ExitCode;
use std::str::FromStr;
use wsgi_lab::Error;

/// The tutorial's port, unless `PORT` is set: `PORT=8000` picks that one, `PORT=0` a free one
/// (the tests run the examples that way).
pub fn port(tutorial: u16) -> Result<u16, Error> {
    setting("PORT", tutorial, "a port number from 0 to 65535 (0 picks a free one)")
}

/// The tutorial's host, unless `HOST` is set: `HOST=127.0.0.1` keeps a tutorial that listens on
/// every interface (`''` or `0.0.0.0`) on loopback, which is how the tests run the examples.
#[allow(dead_code, reason = "the examples whose tutorial already listens on 127.0.0.1 do not need it")]
pub fn host(tutorial: &str) -> String {
    std::env::var("HOST").unwrap_or_else(|_| tutorial.to_string())
}

/// The environment variable `name` as a number, or `default` when it is not set. Set but not
/// `expected` is an error that says what to give: a silent fallback to the default would serve
/// somewhere, or with something, the user did not ask for.
pub fn setting<T: FromStr>(name: &str, default: T, expected: &str) -> Result<T, Error> {
    let text = match std::env::var(name) {
        Err(VarError::NotPresent) => return Ok(default),
        Ok(text) => text,
        Err(VarError::NotUnicode(text)) => text.to_string_lossy().into_owned(),
    };
    text.parse().map_err(|_| Error::Config(format!("{name}={text:?} is not {expected}")))
}

/// Runs an example and ends it the way a program ends: on an error, one `error:` line and exit
/// code 1. (`fn main() -> Result<(), Error>` would print the error's `Debug` form instead:
/// `Error: Bind { addr: "0.0.0.0:5000", source: Os { code: 98, ... } }`.)
pub fn run(example: impl FnOnce() -> Result<(), Error>) -> ExitCode {
    match example() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The library cannot know how this program was given its port; the example can.
            let hint = match &error {
                Error::Bind { source, .. } if source.kind() == ErrorKind::AddrInUse => {
                    "; set PORT=0 to pick a free one"
                }
                _ => "",
            };
            eprintln!("error: {error}{hint}");
            ExitCode::FAILURE
        }
    }
}
