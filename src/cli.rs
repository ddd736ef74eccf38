//! The command line. [`run`] returns the exit code, so it can be tested like a function.

mod lab;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "wsgi-lab", version, about = "Serve, read and measure WSGI-style apps in Rust")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in reports and logs: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// No progress bars (they only ever show on a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a built-in app: the production server (pool or single-threaded), or the dev server.
    Serve(serve::ServeArgs),
    /// Load a server with keep-alive connections and report throughput, latency and fairness.
    Bench(lab::BenchArgs),
    /// Run the same load against several thread counts and engines, side by side.
    Compare(lab::CompareArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

/// What every command needs to know about the terminal.
#[derive(Clone, Copy, Debug)]
struct Output {
    color: bool,
    progress: bool,
}

/// Runs the command line and returns the process's exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return 0;
        }
        Err(e) => {
            // One line that names the cause (clap's first paragraph); `--help` has the rest.
            let text = e.to_string();
            let cause: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
            eprintln!("{}", cause.join(" "));
            return 2;
        }
    };
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => !no_color_env && std::io::stdout().is_terminal(),
    };
    colored::control::set_override(color);
    let output = Output { color, progress: !cli.no_progress };
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Bench(args) => lab::bench(args, output),
        Command::Compare(args) => lab::compare(args, output),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// `5`, `2.5`, `5s` or `300ms`.
fn seconds(text: &str) -> Result<Duration, String> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    match number.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s * scale)),
        _ => Err(format!("{text:?} is not a positive duration: write 5, 2.5, 5s or 300ms")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(seconds("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(seconds("2.5s"), Ok(Duration::from_millis(2500)));
        assert!(seconds("-1").is_err() && seconds("soon").is_err());
    }
}
