//! `compare`: one row per configuration (a thread count once per engine), a reading that
//! follows the numbers (tested against constructed rows in `compare_reading.rs`), and the interactive mode driven through a reader, as a pipe would;
//! external servers: the project's own binary started per row (`--cmd`), and one already
//! running (`--url`).

mod common;

use common::rows::{at, outcome};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::Engine::{self, Handoff, Shared};
use wsgi_lab::apps::sleep;
use wsgi_lab::lab::compare::{
    Config, Setup, Workload, compare, compare_grid, cores, export, header, interactive, plot, reading,
};

fn workload() -> Workload {
    Workload {
        app: Arc::new(sleep),
        path: "/?ms=20".to_string(),
        connections: 4,
        duration: Duration::from_millis(400),
        progress: false,
    }
}

#[test]
fn one_row_per_configuration_in_order() {
    let configs: Vec<Config> =
        [Setup::Single, Setup::Threads(1), Setup::Threads(4)].into_iter().map(Config::from).collect();
    let mut out = Vec::new();
    let rows = compare(&workload(), &configs, &mut out, false).unwrap();
    assert_eq!(rows.iter().map(|r| r.config).collect::<Vec<_>>(), configs);
    let text = String::from_utf8(out).unwrap();
    for label in ["single", "1 thread", "4 threads", "req/s", "p99 ms", "starved", "█"] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    // One engine, the default: the labels do not name it.
    assert!(!text.contains("(shared)"), "{text}");
    // Blocking work: four workers serve four connections about four times as fast as one.
    let rate = |i: usize| rows[i].report.requests_per_sec;
    assert!(rate(2) > 2.5 * rate(1), "4 threads {} vs 1 thread {}", rate(2), rate(1));
    assert!(text.contains("throughput ≈ workers ÷ service time"), "{text}");
}

#[test]
fn each_thread_count_runs_once_per_engine_and_single_once() {
    let setups = [Setup::Single, Setup::Threads(1), Setup::Threads(2)];
    let configs = Config::all(&setups, &[Shared, Handoff, Shared]);
    let labels: Vec<String> = configs.iter().map(Config::to_string).collect();
    assert_eq!(
        labels,
        ["single", "1 thread (shared)", "1 thread (handoff)", "2 threads (shared)", "2 threads (handoff)"]
    );
    assert_eq!(Config::all(&setups, &[]), Config::all(&setups, &[Engine::default()]));
}

#[test]
fn engines_side_by_side_name_the_engine_in_each_row() {
    // `compare --engine shared,handoff --threads 1,2`, in-process and short.
    let quick = Workload { duration: Duration::from_millis(150), ..workload() };
    let configs = Config::all(&[Setup::Threads(1), Setup::Threads(2)], &[Shared, Handoff]);
    let mut out = Vec::new();
    let rows = compare(&quick, &configs, &mut out, false).unwrap();
    assert_eq!(rows.iter().map(|r| r.config).collect::<Vec<_>>(), configs);
    let text = String::from_utf8(out).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").collect();
    for label in ["1 thread (shared)", "1 thread (handoff)", "2 threads (shared)", "2 threads (handoff)"] {
        // Once in the table, once in the chart.
        for block in &blocks[..2] {
            assert_eq!(block.lines().filter(|l| l.starts_with(label)).count(), 1, "{label}:\n{text}");
        }
    }
    for row in &rows {
        assert!(row.report.completed > 0, "{}: nothing completed\n{text}", row.config);
    }
    // The reading's first line sets the engines side by side at both thread counts.
    let engines = reading(&rows, quick.connections, 2).lines().next().unwrap().to_string();
    for word in ["shared", "handoff", "1 thread", "2 threads"] {
        assert!(engines.contains(word), "{word} missing from {engines:?}");
    }
    assert!(text.contains(&engines), "{text}");
}

#[test]
fn interactive_mode_reads_thread_counts_until_q() {
    let mut input = Cursor::new("2\nnot-a-number\nsingle\nq\n3\n");
    let mut out = Vec::new();
    let rows = interactive("sleep", &workload(), &[Engine::default()], &mut input, &mut out, false).unwrap();
    // The rows are kept sorted; the line after `q` is never read.
    let setups: Vec<Setup> = rows.iter().map(|r| r.config.setup).collect();
    assert_eq!(setups, [Setup::Single, Setup::Threads(2)]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"not-a-number\" is not a configuration"), "{text}");
    assert_eq!(text.matches("threads (a number").count(), 4, "one prompt per line read:\n{text}");
}

#[test]
fn interactive_mode_measures_each_thread_count_on_each_engine() {
    let quick = Workload { duration: Duration::from_millis(150), ..workload() };
    let mut out = Vec::new();
    let rows =
        interactive("sleep", &quick, &[Handoff, Shared], &mut Cursor::new("2\nsingle\n"), &mut out, false)
            .unwrap();
    let labels: Vec<String> = rows.iter().map(|r| r.config.to_string()).collect();
    assert_eq!(labels, ["single", "2 threads (handoff)", "2 threads (shared)"]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("2 threads (handoff)"), "{text}");
}

#[test]
fn interactive_mode_ends_at_end_of_input() {
    let rows = interactive("sleep", &workload(), &[Shared], &mut Cursor::new("1\n"), &mut Vec::new(), false)
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[test]
fn configurations_parse_from_the_command_line_words() {
    assert_eq!("single".parse::<Setup>(), Ok(Setup::Single));
    assert_eq!(" 5 ".parse::<Setup>(), Ok(Setup::Threads(5)));
    for bad in ["0", "-1", "many", "2000"] {
        assert!(bad.parse::<Setup>().unwrap_err().contains("not a configuration"), "{bad}");
    }
}

#[test]
fn a_path_that_is_not_found_is_a_failure_not_a_rate() {
    // `compare --app files --path /nope`, in-process and short.
    let files = wsgi_lab::apps::by_name("files").unwrap();
    let quick =
        Workload { app: files, path: "/nope".into(), duration: Duration::from_millis(150), ..workload() };
    let mut out = Vec::new();
    let rows = compare(&quick, &[Config::from(Setup::Threads(1))], &mut out, false).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(rows[0].failed() && rows[0].ok_per_sec() == 0.0, "{text}");
    let n = rows[0].report.statuses[&404];
    // The count as written (35,317), compared without its thousands separators.
    assert!(text.replace(',', "").contains(&format!(" of {n} responses were 404; check --path")), "{text}");
    assert!(text.contains("FAILED") && !text.contains("Little's law"), "{text}");
}

#[test]
fn the_header_says_the_load() {
    let hello =
        Workload { path: "/".into(), connections: 10, duration: Duration::from_secs(2), ..workload() };
    let configs = Config::all(&[Setup::Single, Setup::Threads(2)], &[Handoff]);
    assert_eq!(
        header("hello", &hello, &[10], &configs, 2),
        "hello at /, 10 keep-alive connections, 2 s per row, engine handoff, 2 cores"
    );
    let configs = Config::all(&[Setup::Threads(2)], &[Shared, Handoff]);
    let quick = Workload { duration: Duration::from_millis(200), ..hello.clone() };
    assert_eq!(
        header("sleep", &quick, &[3, 10, 100], &configs, 1),
        "sleep at /, 3, 10 and 100 keep-alive connections, 200 ms per row, engines shared and handoff, 1 core"
    );
    // Single mode alone runs no engine, and the header names none.
    assert_eq!(
        header("hello", &hello, &[1], &[Config::from(Setup::Single)], 4),
        "hello at /, 1 keep-alive connection, 2 s per row, 4 cores"
    );
}

#[test]
fn a_grid_has_a_row_per_connection_count_and_configuration() {
    let quick = Workload { duration: Duration::from_millis(150), ..workload() };
    let configs = [Setup::Threads(1), Setup::Threads(2)].map(Config::from);
    let mut out = Vec::new();
    let rows = compare_grid(&quick, &[1, 4], &configs, &mut out, false).unwrap();
    let cells: Vec<(usize, Setup)> = rows.iter().map(|r| (r.report.connections, r.config.setup)).collect();
    assert_eq!(
        cells,
        [(1, Setup::Threads(1)), (1, Setup::Threads(2)), (4, Setup::Threads(1)), (4, Setup::Threads(2))]
    );
    let text = String::from_utf8(out).unwrap();
    for label in ["1 conn, 1 thread ", "1 conn, 2 threads ", "4 conns, 1 thread ", "4 conns, 2 threads "] {
        assert_eq!(text.lines().filter(|l| l.starts_with(label)).count(), 2, "{label}:\n{text}");
    }
    assert!(text.contains("with 1 connection:\n") && text.contains("with 4 connections:\n"), "{text}");
}

#[test]
fn the_plot_draws_a_line_per_connection_count_and_engine() {
    let rows = [
        at(1, Setup::Single, Shared, 10.0),
        at(1, Setup::Threads(1), Shared, 20.0),
        at(1, Setup::Threads(2), Shared, 20.0),
        at(1, Setup::Threads(1), Handoff, 20.0),
        at(1, Setup::Threads(2), Handoff, 20.0),
        at(10, Setup::Threads(1), Shared, 20.0),
        at(10, Setup::Threads(2), Shared, 40.0),
        at(10, Setup::Threads(1), Handoff, 18.0),
        at(10, Setup::Threads(2), Handoff, 36.0),
        outcome(Setup::Threads(4), &[(500, 10)], &[]),
    ];
    let names: Vec<String> = plot::series(&rows).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["1 conn, shared", "1 conn, handoff", "10 conns, shared", "10 conns, handoff"]);
    let svg = plot::svg(&rows).unwrap();
    check_svg(&svg, 4);
    for name in names {
        assert_eq!(svg.lines().filter(|l| *l == name).count(), 2, "{name} in each legend:\n{svg}");
    }
}

/// Lines two decades apart (a GIL-bound Python server beside ours on `cpu`) get a logarithmic
/// axis, so that the lower one does not lie flat on zero; lines close together keep a linear one.
#[test]
fn the_plot_draws_lines_decades_apart_on_a_log_axis() {
    let server = |name: &str, rate| {
        let mut row = at(4, Setup::Threads(2), Shared, rate);
        row.server = Some(name.to_string());
        row
    };
    let apart = [server("waitress", 480.0), server("wsgi-lab", 61_000.0)];
    let svg = plot::svg(&apart).unwrap();
    check_svg(&svg, 2);
    assert!(svg.contains("ok req/s (log scale) against workers"), "{svg}");
    let close = [server("waitress", 480.0), server("gunicorn", 900.0)];
    let svg = plot::svg(&close).unwrap();
    check_svg(&svg, 2);
    assert!(svg.contains("ok req/s against workers") && !svg.contains("log scale"), "{svg}");
}

/// An SVG document, tags balanced, with one `<polyline` per series in each of its two charts
/// (the series are drawn 2 pixels wide; the axes, also polylines, 1).
fn check_svg(svg: &str, series: usize) {
    assert!(svg.trim_start().starts_with("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').expect("every tag closes");
        let tag = &rest[start + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "unbalanced at {tag:?}");
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            open.push(tag.split_whitespace().next().unwrap());
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    let lines = svg.lines().filter(|l| l.starts_with("<polyline") && l.contains(r#"stroke-width="2""#));
    assert_eq!(lines.count(), 2 * series, "{svg}");
}

/// The table's rows as the command printed them: label, then the nine columns.
fn table(stdout: &str) -> Vec<(String, Vec<String>)> {
    let block = stdout.split("\n\n").nth(1).unwrap();
    block
        .lines()
        .skip(1)
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (label, columns) = words.split_at(words.len() - 9);
            (label.join(" "), columns.iter().map(|c| c.to_string()).collect())
        })
        .collect()
}

#[test]
fn the_exports_hold_the_printed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (json, csv, svg) = (file("rows.json"), file("rows.csv"), file("rows.svg"));
    let args = [
        "compare",
        "--app",
        "hello",
        "--path",
        "/",
        "--threads",
        "1,2",
        "--engine",
        "shared,handoff",
        "-c",
        "2,3",
        "-d",
        "200ms",
        "--json",
        &json,
        "--csv",
        &csv,
        "--plot",
        &svg,
    ];
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_wsgi-lab")).args(args).output().unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.starts_with(&format!(
            "hello at /, 2 and 3 keep-alive connections, 200 ms per row, engines shared and handoff, {}\n\n",
            cores_text()
        )),
        "{stdout}"
    );
    let printed = table(&stdout);
    assert_eq!(printed.len(), 8, "{stdout}");
    assert_eq!(printed[0].0, "2 conns, 1 thread (shared)", "{stdout}");
    assert_eq!(printed[7].0, "3 conns, 2 threads (handoff)", "{stdout}");

    let records: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().map(String::from).collect();
    assert_eq!(lines[0], export::COLUMNS.join(","));
    assert_eq!((records.len(), lines.len()), (8, 9));
    let decimals = [1, 2, 2, 2, 2];
    let numbers = ["ok_per_sec", "p50_ms", "p90_ms", "p99_ms", "max_ms"];
    for ((i, (label, columns)), record) in printed.iter().enumerate().zip(records) {
        let fields: Vec<&str> = lines[i + 1].split(',').collect();
        assert_eq!(fields.len(), export::COLUMNS.len(), "{}", lines[i + 1]);
        let field = |name: &str| fields[export::COLUMNS.iter().position(|c| *c == name).unwrap()];
        let threads = record["threads"].as_u64().unwrap();
        let engine = record["engine"].as_str().unwrap();
        let connections = record["connections"].as_u64().unwrap();
        assert_eq!(*label, format!("{connections} conns, {}", record["config"].as_str().unwrap()));
        assert!(label.ends_with(&format!("({engine})")) && label.contains(&format!(" {threads} thread")));
        assert_eq!(
            [field("config"), field("engine"), field("connections"), field("threads")],
            [record["config"].as_str().unwrap(), engine, &connections.to_string(), &threads.to_string()]
        );
        for ((name, decimals), printed) in numbers.iter().zip(decimals).zip(columns) {
            let value = record[name].as_f64().unwrap();
            assert_eq!(format!("{value:.decimals$}"), *printed, "{name} of {label}");
            assert_eq!(field(name).parse::<f64>().unwrap(), value, "{name} of {label}");
        }
        for (j, name) in ["not_2xx_3xx", "errors", "starved"].into_iter().enumerate() {
            assert_eq!(record[name].as_u64().unwrap().to_string(), columns[5 + j], "{name} of {label}");
            assert_eq!(field(name), columns[5 + j], "{name} of {label}");
        }
        assert_eq!((record["verdict"].as_str().unwrap(), field("verdict")), ("OK", &*columns[8]));
    }
    // Two connection counts on two engines: four lines in each chart.
    check_svg(&std::fs::read_to_string(&svg).unwrap(), 4);
}

#[test]
fn interactive_mode_takes_commands_from_a_pipe() {
    let quick = Workload { duration: Duration::from_millis(100), ..workload() };
    let script = "help\n\n1\n\nconnections 2\n1\nengine shared\nengine nope\nduration 80ms\napp nope\n\
                  app hello\npath nope\npath /\n2\nq\n1\n";
    let mut out = Vec::new();
    let rows = interactive("sleep", &quick, &[Handoff], &mut Cursor::new(script), &mut out, false).unwrap();
    let text = String::from_utf8(out).unwrap();
    // The header at start, and again after each change.
    assert!(
        text.starts_with(&format!(
            "sleep at /?ms=20, 4 keep-alive connections, 100 ms per row, engine handoff, {}",
            cores_text()
        )),
        "{text}"
    );
    assert!(text.contains("app NAME") && text.contains("connections N"), "help:\n{text}");
    // Empty lines add nothing: one row at 4 connections, then one at 2, each read on its own.
    assert_eq!(text.lines().filter(|l| l.starts_with("4 conns, 1 thread ")).count(), 2, "{text}");
    assert!(text.contains("sleep at /?ms=20, 2 keep-alive connections"), "{text}");
    assert!(text.contains("engine shared, ") && text.contains("no engine \"nope\""), "{text}");
    assert!(text.contains("80 ms per row") && text.contains("no built-in app \"nope\""), "{text}");
    assert!(text.contains("\"nope\" is not a path"), "{text}");
    // Another app is another load: the table starts over, once.
    assert_eq!(text.matches("another load: the table starts over").count(), 1, "{text}");
    assert!(text.contains("hello at /, 2 keep-alive connections, 80 ms per row, engine shared"), "{text}");
    let cells: Vec<(usize, String)> =
        rows.iter().map(|r| (r.report.connections, r.config.to_string())).collect();
    assert_eq!(cells, [(2, "2 threads (shared)".to_string())]);
    assert!(rows[0].report.url.ends_with('/'), "{}", rows[0].report.url);
    assert_eq!(text.matches("threads (a number").count(), 15, "one prompt per line read:\n{text}");
}

/// `2 cores`, as the header says this machine's.
fn cores_text() -> String {
    if cores() == 1 { "1 core".to_string() } else { format!("{} cores", cores()) }
}

#[test]
fn the_reading_says_when_work_does_not_scale() {
    // CPU-bound work on a 2-core machine: 8 workers cannot be 8 times one worker.
    let cpu = Workload { app: Arc::new(wsgi_lab::apps::cpu), path: "/?n=3000000".into(), ..workload() };
    let configs = [Setup::Threads(1), Setup::Threads(8)].map(Config::from);
    let rows = compare(&Workload { connections: 8, ..cpu }, &configs, &mut Vec::new(), false).unwrap();
    let cores = cores();
    if cores < 8 {
        let text = reading(&rows, 8, cores);
        assert!(text.contains("8 threads ×") && text.contains("(not ×8)"), "{text}");
    }
}
