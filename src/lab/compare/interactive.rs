//! `compare --interactive`: a thread count at a time, or a command that changes the load, read
//! from the keyboard or a pipe; the table and its reading redrawn after each measurement.
//! Ctrl+C cancels the row being measured and the prompt comes back; Ctrl+C at the prompt, or
//! a second one before the cancelled row has stopped, quits.

use super::reading::grid_reading;
use super::{Config, Row, Setup, Workload, cores, header, measure_until, render, time};
use crate::server::Engine;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What interactive mode answers to `help`.
const HELP: &str = "\
a thread count (5) or `single`: measure it, once on each engine, and add the rows
app NAME          serve another built-in app (the table starts over; a default path follows it)
path P            request another path, such as /?ms=50 (the table starts over)
connections N     measure with N connections from now on (each count is read on its own)
duration S        measure each row for S: 2, 2.5s, 500ms
engine E[,E]      run the pools on these engines from now on: shared, handoff
help              this list
q                 quit";

/// The interactive loop: reads a line at a time, until `q` or the end of the input. A thread
/// count or `single` is measured (a thread count once on each engine) and the table redrawn
/// with the new rows; a command changes the load for the rows to come and prints the new
/// [`header`]; `help` lists them; an empty line does nothing. Works the same with a pipe as
/// with a person at the keyboard.
///
/// Ctrl+C while a row is measured stops that row, says it was cancelled and adds nothing (the
/// rows of the same line measured before it stay); the prompt comes back. Ctrl+C at the
/// prompt, or a second one before the cancelled row has stopped, ends the process (exit code
/// 130), as Ctrl+C ends any program. This installs the process's Ctrl+C handler, once.
///
/// A new app or path is another load: the rows of the old one would be read against the new
/// ones as if they measured the same thing, so the table starts over. A new connection count,
/// duration or engine keeps the rows: each row names its count and engine, and the reading
/// reads each count on its own.
pub fn interactive(
    app: &str,
    workload: &Workload,
    engines: &[Engine],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    let io = |e: std::io::Error| e.to_string();
    let (mut app, mut workload, mut engines) = (app.to_string(), workload.clone(), engines.to_vec());
    // Before the first line is printed: whoever sees the header can already press Ctrl+C.
    let interrupt = interrupt();
    let describe = |app: &str, workload: &Workload, engines: &[Engine]| {
        let pools = Config::all(&[Setup::Threads(1)], engines);
        header(app, workload, &[workload.connections], &pools, cores())
    };
    writeln!(out, "{}\n", describe(&app, &workload, &engines)).map_err(io)?;
    let mut rows: Vec<Row> = Vec::new();
    loop {
        write!(out, "threads (a number or `single`), a command (help), or q to quit> ").map_err(io)?;
        out.flush().map_err(io)?;
        let mut line = String::new();
        if input.read_line(&mut line).map_err(io)? == 0 || line.trim() == "q" {
            writeln!(out).map_err(io)?;
            return Ok(rows);
        }
        let line = line.trim();
        let (word, argument) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let argument = argument.trim();
        let changed = match word {
            "" => continue,
            "help" => {
                writeln!(out, "{HELP}").map_err(io)?;
                continue;
            }
            "app" => match crate::apps::by_name(argument) {
                Some(served) => {
                    // A path left at the old app's default follows the app; one typed stays.
                    if workload.path == super::default_path(&app) {
                        workload.path = super::default_path(argument).to_string();
                    }
                    (app, workload.app) = (argument.to_string(), served);
                    Ok(true)
                }
                None => {
                    let names: Vec<&str> = crate::apps::APPS.iter().map(|(n, _)| *n).collect();
                    Err(format!("no built-in app {argument:?}; choose one of {}", names.join(", ")))
                }
            },
            "path" if argument.starts_with('/') => {
                workload.path = argument.to_string();
                Ok(true)
            }
            "path" => Err(format!("{argument:?} is not a path: it starts with /, such as /?ms=50")),
            "connections" => crate::lab::bench::parse_connections(argument).map(|n| {
                workload.connections = n;
                false
            }),
            "duration" => duration(argument).map(|d| {
                workload.duration = d;
                false
            }),
            "engine" => argument
                .split(',')
                .map(|name| name.trim().parse::<Engine>().map_err(|e| e.to_string()))
                .collect::<Result<Vec<Engine>, String>>()
                .map(|chosen| {
                    engines = chosen;
                    false
                }),
            _ => {
                match line.parse::<Setup>() {
                    Ok(setup) => {
                        let before = rows.len();
                        for config in Config::all(&[setup], &engines) {
                            let measured = interrupt.cancellable(|cancel| {
                                // Said once Ctrl+C does cancel, so that whoever reads it can.
                                let duration = time(workload.duration);
                                writeln!(out, "measuring {config} for {duration} (Ctrl+C cancels it)")
                                    .map_err(io)?;
                                measure_until(&workload, config, Some(cancel))
                            });
                            match measured? {
                                Some(row) => rows.push(row),
                                None => {
                                    writeln!(out, "{config}: cancelled, not measured").map_err(io)?;
                                    break;
                                }
                            }
                        }
                        if rows.len() == before {
                            continue;
                        }
                        // A stable sort: the engines of one thread count stay in the order given.
                        rows.sort_by_key(|r| (r.report.connections, r.config.setup));
                        write!(out, "\n{}\n{}\n\n", render(&rows, color), grid_reading(&rows, cores()))
                            .map_err(io)?;
                    }
                    Err(message) => writeln!(out, "{message}; or a command: help").map_err(io)?,
                }
                continue;
            }
        };
        match changed {
            Ok(starts_over) => {
                if starts_over && !rows.is_empty() {
                    rows.clear();
                    writeln!(out, "another load: the table starts over").map_err(io)?;
                }
                writeln!(out, "{}", describe(&app, &workload, &engines)).map_err(io)?;
            }
            Err(message) => writeln!(out, "{message}").map_err(io)?,
        }
    }
}

/// What the Ctrl+C handler shares with the loop. A process has one Ctrl+C handler (`ctrlc`
/// refuses a second), so the first session installs it and every later one shares it.
struct Interrupt {
    /// A row is being measured: Ctrl+C cancels it instead of ending the process.
    measuring: AtomicBool,
    /// Set by Ctrl+C while a row is measured; the bench polls it and stops early.
    cancel: Arc<AtomicBool>,
}

impl Interrupt {
    /// Runs `measure` (one row) as something Ctrl+C cancels by setting the flag it is given.
    fn cancellable<T>(&self, measure: impl FnOnce(Arc<AtomicBool>) -> T) -> T {
        // In this order: a Ctrl+C from here on finds a row running and a fresh flag to set.
        self.cancel.store(false, SeqCst);
        self.measuring.store(true, SeqCst);
        let result = measure(self.cancel.clone());
        self.measuring.store(false, SeqCst);
        result
    }
}

static INTERRUPT: OnceLock<Interrupt> = OnceLock::new();

fn interrupt() -> &'static Interrupt {
    INTERRUPT.get_or_init(|| {
        // Refused when the process has a handler already (a program embedding this loop): then
        // Ctrl+C does what that one does.
        let _ = ctrlc::set_handler(on_ctrl_c);
        Interrupt { measuring: AtomicBool::new(false), cancel: Arc::new(AtomicBool::new(false)) }
    })
}

/// Runs on ctrlc's own thread, never inside the signal: it may print and exit.
fn on_ctrl_c() {
    // The first Ctrl+C of a row cancels it. The swap makes a second one, before the row has
    // stopped, quit: a person pressing twice wants out.
    if let Some(interrupt) = INTERRUPT.get()
        && interrupt.measuring.load(SeqCst)
        && !interrupt.cancel.swap(true, SeqCst)
    {
        eprintln!("\ncancelling this row (Ctrl+C again to quit)...");
        return;
    }
    eprintln!();
    std::process::exit(130);
}

/// `2`, `2.5`, `2s`, `500ms`: a positive duration, as `--duration` takes it.
fn duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && (s * scale).is_finite() && s * scale < 3600.0 => {
            Ok(Duration::from_secs_f64(s * scale))
        }
        _ => Err(format!("{text:?} is not a duration: write 2, 2.5, 2s or 500ms (under an hour)")),
    }
}
