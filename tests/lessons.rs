//! The lessons hold together: every `lessons/NN_name.rs` is a `[[bin]]` named `lesson-NN-name`
//! and the other way round; every lesson has a page with its six sections; every command a page
//! tells the reader to run names a binary or an example that exists; the index lists them all.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const SECTIONS: [&str; 6] =
    ["## Goal", "## Run", "## What to observe", "## Transcript", "## Try next", "## See also"];

/// `lessons/NN_name.rs` files, as `NN_name`.
fn lesson_files() -> BTreeSet<String> {
    fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_string))
        .filter(|stem| stem.len() > 3 && stem[..2].bytes().all(|b| b.is_ascii_digit()) && &stem[2..3] == "_")
        .collect()
}

/// `(name, path)` of every `[[bin]]` in Cargo.toml.
fn bins() -> Vec<(String, String)> {
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let value = |line: &str| line.split_once('=').map(|(_, v)| v.trim().trim_matches('"').to_string());
    let mut found = Vec::new();
    let mut lines = manifest.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if line == "[[bin]]" {
            let (mut name, mut path) = (String::new(), String::new());
            while let Some(next) = lines.next_if(|l| !l.starts_with('[')) {
                match next.split('=').next().map(str::trim) {
                    Some("name") => name = value(next).unwrap(),
                    Some("path") => path = value(next).unwrap(),
                    _ => {}
                }
            }
            found.push((name, path));
        }
    }
    found
}

#[test]
fn every_lesson_file_is_a_bin_and_every_lesson_bin_a_file() {
    let files = lesson_files();
    assert!(files.len() >= 10, "ten lessons expected, found {files:?}");
    let from_bins: BTreeSet<String> = bins()
        .into_iter()
        .filter(|(name, _)| name.starts_with("lesson-"))
        .map(|(name, path)| {
            let stem = path.strip_prefix("lessons/").and_then(|p| p.strip_suffix(".rs")).unwrap().to_string();
            assert_eq!(name, format!("lesson-{}", stem.replace('_', "-")), "bin name follows the file name");
            stem
        })
        .collect();
    assert_eq!(files, from_bins);
}

#[test]
fn every_lesson_page_has_its_sections_and_runs_what_exists() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let bin_names: BTreeSet<String> = bins().into_iter().map(|(name, _)| name).collect();
    let examples: BTreeSet<String> = fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".rs").map(str::to_string))
        .collect();
    for stem in lesson_files() {
        let page = fs::read_to_string(dir.join(format!("{stem}.md")))
            .unwrap_or_else(|_| panic!("lessons/{stem}.md missing"));
        let mut at = 0;
        for section in SECTIONS {
            let found = page[at..]
                .find(section)
                .unwrap_or_else(|| panic!("{stem}.md: `{section}` missing or out of order"));
            at += found + section.len();
        }
        let run = &page[page.find("## Run").unwrap()..page.find("## What to observe").unwrap()];
        let commands: Vec<&str> = run.lines().map(str::trim).filter(|l| l.starts_with("cargo run")).collect();
        assert!(!commands.is_empty(), "{stem}.md: the Run section has no `cargo run` command");
        assert!(
            commands.iter().any(|c| c.contains(&format!("--bin lesson-{}", stem.replace('_', "-")))),
            "{stem}.md: the Run section does not run its own lesson"
        );
        for command in commands {
            let words: Vec<&str> = command.split_whitespace().collect();
            let target = |flag: &str| words.iter().position(|w| *w == flag).map(|i| words[i + 1].to_string());
            if let Some(bin) = target("--bin") {
                assert!(bin_names.contains(&bin), "{stem}.md runs `{bin}`, which is not a [[bin]]");
            }
            if let Some(example) = target("--example") {
                assert!(
                    examples.contains(&example),
                    "{stem}.md runs example `{example}`, which does not exist"
                );
            }
        }
    }
}

#[test]
fn the_index_lists_every_lesson() {
    let index = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/README.md")).unwrap();
    for stem in lesson_files() {
        assert!(index.contains(&format!("{stem}.md")), "lessons/README.md does not link {stem}.md");
    }
}
