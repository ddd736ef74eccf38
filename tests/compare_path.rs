//! `compare`'s default path: without `--path`, the `sleep` app is asked for `/?ms=50` and every
//! other app for `/` (`compare::default_path`); in interactive mode, `app` moves a path left at
//! its default to the new app's, and keeps one typed in.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::Engine::Handoff;
use wsgi_lab::apps::sleep;
use wsgi_lab::lab::compare::{Workload, interactive};

/// Without --path, `sleep` is asked for 50 ms and every other app for `/`: the header says which.
#[test]
fn the_default_path_is_the_apps() {
    for (app, header) in [("hello", "hello at /, "), ("sleep", "sleep at /?ms=50, ")] {
        let args = ["compare", "--app", app, "--threads", "1", "-c", "1", "-d", "200ms"];
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_wsgi-lab")).args(args).output().unwrap();
        let stdout = String::from_utf8(run.stdout).unwrap();
        assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
        assert!(stdout.starts_with(header), "{app}: {stdout}");
    }
}

/// `app` in interactive mode: a path left at the old app's default follows the new app's; one
/// typed in stays.
#[test]
fn interactive_app_change_moves_a_default_path_only() {
    for (path, expected) in [("/?ms=50", "hello at /, "), ("/?ms=20", "hello at /?ms=20, ")] {
        let start = Workload {
            app: Arc::new(sleep),
            path: path.into(),
            connections: 1,
            duration: Duration::from_millis(100),
            progress: false,
        };
        let mut out = Vec::new();
        interactive("sleep", &start, &[Handoff], &mut Cursor::new("app hello\nq\n"), &mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(expected), "from {path}: {text}");
    }
}
