//! `wsgi-lab python setup` and `Python::find`: the environment is made once and then only
//! checked, and every way of not having it is one line that says what to do.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};
use wsgi_lab::python::{PINS, Python};

/// `wsgi-lab ARGS...` with `env`, to its end.
fn wsgi_lab(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsgi-lab")).args(args).envs(env.iter().copied()).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every entry of the environment's `site-packages` with its modification time: pip replaces
/// a package's folders when it installs it again, so a reinstall changes this.
fn installed(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut entries = Vec::new();
    for lib in std::fs::read_dir(dir.join("lib")).unwrap() {
        let site = lib.unwrap().path().join("site-packages");
        for entry in std::fs::read_dir(&site).unwrap() {
            let entry = entry.unwrap();
            entries.push((entry.path(), entry.metadata().unwrap().modified().unwrap()));
        }
    }
    entries.sort();
    entries
}

#[test]
fn setup_twice_installs_once_and_then_only_checks() {
    let first = wsgi_lab(&["python", "setup"], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let dir = Python::default_dir();
    let interpreter = dir.join("bin/python");
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), interpreter.to_str().unwrap());
    let before = installed(&dir);
    for (name, _) in PINS {
        let folder = name.to_lowercase();
        assert!(before.iter().any(|(p, _)| p.ends_with(&folder)), "{name} is installed: {before:?}");
    }

    let started = Instant::now();
    let second = wsgi_lab(&["python", "setup"], &[]);
    let took = started.elapsed();
    assert!(second.status.success(), "{}", stderr(&second));
    let said = stderr(&second);
    assert!(said.contains("already set up, nothing installed"), "{said}");
    assert!(!said.contains("installing") && !said.contains("creating"), "{said}");
    assert!(took < Duration::from_secs(5), "a check, not an install: {took:?}");
    assert_eq!(installed(&dir), before, "nothing was reinstalled");
    assert_eq!(Python::find(Some(&interpreter)).unwrap().interpreter(), interpreter);
}

/// A stand-in interpreter: a shell script that answers the inventory `Python::find` asks for
/// (its own path, then `name version` per package) as if it had `has`.
fn fake_interpreter(dir: &Path, has: &[&str]) -> PathBuf {
    let path = dir.join("python");
    let packages: Vec<String> = has.iter().map(|name| format!("[ \"$n\" = {name} ] && v=1.0")).collect();
    let script = format!(
        "#!/bin/sh\nshift 2\necho \"$0\"\nfor n in \"$@\"; do v=-; {}; echo \"$n $v\"; done\n",
        packages.join("; ")
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn find_takes_the_python_it_is_given_and_names_what_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let complete = fake_interpreter(dir.path(), &["waitress", "Flask", "Werkzeug", "gunicorn"]);
    let python = Python::find(Some(&complete)).unwrap();
    assert_eq!(python.interpreter(), complete);
    assert_eq!(python.script("waitress-serve"), dir.path().join("waitress-serve"));

    let partial = fake_interpreter(dir.path(), &["waitress"]);
    let error = Python::find(Some(&partial)).unwrap_err();
    assert_eq!(
        error,
        format!(
            "--python {} lacks Flask, Werkzeug, gunicorn: pip install them there, or leave --python out \
             to use `wsgi-lab python setup`'s environment",
            partial.display()
        )
    );

    let missing = dir.path().join("no-such-python");
    let error = Python::find(Some(&missing)).unwrap_err();
    assert!(error.starts_with(&format!("--python cannot run {}: ", missing.display())), "{error}");
    assert!(error.ends_with("give --python a python whose environment has waitress, Flask and gunicorn"));
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[test]
fn setup_without_python3_says_so_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("bin");
    std::fs::create_dir(&empty).unwrap();
    let env = dir.path().join("env");
    let output =
        wsgi_lab(&["python", "setup", "--dir", env.to_str().unwrap()], &[("PATH", empty.to_str().unwrap())]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).lines().last().unwrap(),
        "error: python3 not found on PATH: install Python 3 and its venv module (Debian: apt-get install \
         python3 python3-venv)"
    );
}

#[test]
fn setup_without_venv_names_the_debian_package() {
    // Debian's python3 without python3-venv: `-m venv` fails, blaming ensurepip.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let python3 = bin.join("python3");
    std::fs::write(
        &python3,
        "#!/bin/sh\necho 'The virtual environment was not created successfully because ensurepip is not'\n\
         echo 'available.  On Debian/Ubuntu systems, you need to install the python3-venv'\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&python3, Permissions::from_mode(0o755)).unwrap();
    let env = dir.path().join("env");
    let output =
        wsgi_lab(&["python", "setup", "--dir", env.to_str().unwrap()], &[("PATH", bin.to_str().unwrap())]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert_eq!(
        said.lines().last().unwrap(),
        "error: python3 cannot create virtual environments: install its venv module (Debian: apt-get \
         install python3-venv)"
    );
    assert!(!env.exists(), "nothing half-made is left behind");
}

#[test]
fn setup_refuses_python_flag() {
    let output = wsgi_lab(&["--python", "/usr/bin/python3", "python", "setup"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim_end(),
        "error: --python names an environment to use; `python setup` creates one (use --dir to choose where)"
    );
}
