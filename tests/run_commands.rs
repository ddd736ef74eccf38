//! The README, the lesson pages and the programs' own docs say how to run things one way,
//! `cargo run --release ...`, so a reader who follows them all builds the crate once, not once
//! in debug and again in release.

use std::fs;
use std::path::Path;

#[test]
fn every_cargo_run_in_the_docs_is_a_release_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for dir in ["lessons", "examples"] {
        for entry in fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md" || e == "rs") {
                files.push(path);
            }
        }
    }
    let mut debug_builds = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            for (at, command) in line.match_indices("cargo run") {
                // A command may wrap in a doc comment, `--release` starting the next line.
                let after = format!("{} {}", &line[at + command.len()..], lines.get(n + 1).unwrap_or(&""));
                if after.split_whitespace().find(|w| *w != "//!") != Some("--release") {
                    debug_builds.push(format!("{}:{}: {line}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(debug_builds.is_empty(), "run these with --release:\n{}", debug_builds.join("\n"));
}
