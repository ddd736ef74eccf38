//! Running a lesson's binary as a class would, for the lesson tests.

use std::process::Command;

/// Runs a lesson binary with `args`, checks that it exited 0, and returns what it printed.
pub fn run_lesson(binary: &str, args: &[&str]) -> String {
    let output = Command::new(binary).args(args).output().expect("run the lesson binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{binary} {args:?} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
