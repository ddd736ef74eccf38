//! The `files` app: static files with their Content-Type, and no way out of the root:
//! `..`, encoded `%2e%2e`, absolute paths, and symbolic links that lead outside.

mod common;

use std::os::unix::fs::symlink;
use wsgi_lab::apps::Files;
use wsgi_lab::{Mode, testing};

fn site() -> (tempfile::TempDir, tempfile::TempDir) {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "the secret").unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::create_dir(root.path().join("css")).unwrap();
    std::fs::write(root.path().join("css/site.css"), "body{}").unwrap();
    std::fs::write(root.path().join("data.json"), "{}").unwrap();
    symlink(outside.path().join("secret.txt"), root.path().join("leak.txt")).unwrap();
    symlink(outside.path(), root.path().join("elsewhere")).unwrap();
    symlink(root.path().join("data.json"), root.path().join("alias.json")).unwrap();
    (root, outside)
}

#[test]
fn files_are_served_with_their_type() {
    let (root, _outside) = site();
    let app = Files::new(root.path()).unwrap();
    let cases = [
        ("/", "text/html", "<h1>home</h1>"),
        ("/css/site.css", "text/css", "body{}"),
        ("/data.json", "application/json", "{}"),
        ("/alias.json", "application/json", "{}"),
    ];
    for (path, mime, body) in cases {
        let response = testing::get(&app, path);
        assert_eq!(
            (response.status_code(), response.header("content-type"), response.text().as_str()),
            (200, Some(mime), body),
            "{path}"
        );
    }
    assert_eq!(testing::get(&app, "/nope.txt").status_code(), 404);
}

#[test]
fn every_escape_is_refused() {
    let (root, _outside) = site();
    let app = Files::new(root.path()).unwrap();
    let escapes = [
        "/../secret.txt",
        "/css/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/etc/passwd",
        "/css/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc/passwd",
        "//etc/passwd",
        "/leak.txt",
        "/elsewhere/secret.txt",
    ];
    for path in escapes {
        let response = testing::get(&app, path);
        assert!(
            matches!(response.status_code(), 403 | 404),
            "{path}: {} {}",
            response.status,
            response.text()
        );
        assert!(
            !response.text().contains("the secret") && !response.text().contains("root:"),
            "{path} leaked"
        );
    }
    assert_eq!(
        testing::get(&app, "/leak.txt").status_code(),
        403,
        "a link out of the root is refused, not missing"
    );
}

#[test]
fn head_gets_the_headers_and_no_body_over_the_wire() {
    let (root, _outside) = site();
    let server = common::start(Files::new(root.path()).unwrap(), common::options(), Mode::Pool);
    let response = server.request("HEAD /css/site.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(
        (response.status, response.header("content-length"), response.body.len()),
        (200, Some("6"), 0)
    );
    let escaped = server.get("/%2e%2e/%2e%2e/%2e%2e/etc/passwd");
    assert_eq!(escaped.status, 403);
}
