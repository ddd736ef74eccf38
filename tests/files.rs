//! The `files` app as a static file server: types with their charset, directories (index or
//! listing), paths normalised before they are checked, the validators and their 304s, `HEAD`,
//! and no way out of the root: `..`, encoded `%2e%2e`, absolute paths, and symbolic links that
//! lead outside.

mod common;

use std::os::unix::fs::symlink;
use std::time::{Duration, SystemTime};
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
    std::fs::write(root.path().join("notes.txt"), "café").unwrap();
    std::fs::write(root.path().join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
    symlink(outside.path().join("secret.txt"), root.path().join("leak.txt")).unwrap();
    symlink(outside.path(), root.path().join("elsewhere")).unwrap();
    symlink(root.path().join("data.json"), root.path().join("alias.json")).unwrap();
    (root, outside)
}

/// The request head for `path` with extra header lines, closing the connection after.
fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n")
}

#[test]
fn files_are_served_with_their_type_and_text_with_its_charset() {
    let (root, _outside) = site();
    let app = Files::new(root.path()).unwrap();
    let cases: [(&str, &str, &[u8]); 6] = [
        ("/", "text/html; charset=utf-8", b"<h1>home</h1>"),
        ("/css/site.css", "text/css; charset=utf-8", b"body{}"),
        ("/notes.txt", "text/plain; charset=utf-8", "café".as_bytes()),
        // JSON defines no charset parameter (RFC 8259), and an image has none.
        ("/data.json", "application/json", b"{}"),
        ("/alias.json", "application/json", b"{}"),
        ("/logo.png", "image/png", b"\x89PNG"),
    ];
    for (path, mime, body) in cases {
        let response = testing::get(&app, path);
        assert_eq!(
            (response.status_code(), response.header("content-type"), response.body.as_slice()),
            (200, Some(mime), body),
            "{path}"
        );
    }
    assert_eq!(testing::get(&app, "/nope.txt").status_code(), 404);
    let post = testing::Client::new(&app).request("POST", "/notes.txt").body("x").send();
    assert_eq!((post.status_code(), post.header("allow")), (405, Some("GET, HEAD")));
}

#[test]
fn a_directory_serves_its_index_or_else_a_listing() {
    let (root, _outside) = site();
    std::fs::create_dir(root.path().join("css/fonts")).unwrap();
    std::fs::write(root.path().join("css/<b> & #1?.txt"), "odd name").unwrap();
    let app = Files::new(root.path()).unwrap();

    assert_eq!(testing::get(&app, "/").text(), "<h1>home</h1>");
    let listing = testing::get(&app, "/css/");
    assert_eq!(
        (listing.status_code(), listing.header("content-type")),
        (200, Some("text/html; charset=utf-8"))
    );
    let page = listing.text();
    for line in [
        r#"<a href="fonts/">fonts/</a>"#,
        r#"<a href="site.css">site.css</a>"#,
        // Escaped as text, percent-encoded as a link: the name is neither markup nor a query.
        r#"<a href="%3Cb%3E%20%26%20%231%3F.txt">&lt;b&gt; &amp; #1?.txt</a>"#,
    ] {
        assert!(page.contains(line), "{line} not in {page}");
    }
    assert_eq!(testing::get(&app, "/css/%3Cb%3E%20%26%20%231%3F.txt").text(), "odd name");

    // Without its slash, a directory's relative links would resolve one level up.
    let bare = testing::get(&app, "/css?x=1");
    assert_eq!((bare.status_code(), bare.header("location")), (301, Some("http://127.0.0.1/css/?x=1")));
}

#[test]
fn a_dot_dot_that_stays_inside_the_root_is_served() {
    let (root, _outside) = site();
    let app = Files::new(root.path()).unwrap();
    for path in
        ["/css/../notes.txt", "/css/./../css/site.css", "/nothing/../data.json", "/css/%2e%2e/notes.txt"]
    {
        let response = testing::get(&app, path);
        assert_eq!(response.status_code(), 200, "{path}: {}", response.text());
    }
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
        "/elsewhere/",
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
fn an_unchanged_file_is_a_304_by_either_validator() {
    let (root, _outside) = site();
    let server = common::start(Files::new(root.path()).unwrap(), common::options(), Mode::Pool);
    let first = server.get("/notes.txt");
    let etag = first.header("etag").expect("an ETag").to_string();
    let modified = first.header("last-modified").expect("a Last-Modified").to_string();
    assert!(etag.starts_with("W/\""), "a weak tag: size and time do not prove the bytes: {etag}");
    assert_eq!(first.header("cache-control"), Some("no-cache"));

    let earlier = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(86_400));
    let cases = [
        (format!("If-None-Match: {etag}\r\n"), 304),
        (format!("If-None-Match: \"other\", {}\r\n", etag.trim_start_matches("W/")), 304),
        ("If-None-Match: *\r\n".to_string(), 304),
        (format!("If-Modified-Since: {modified}\r\n"), 304),
        (format!("If-Modified-Since: {earlier}\r\n"), 200),
        ("If-Modified-Since: yesterday\r\n".to_string(), 200),
        // If-None-Match decides alone when it is sent (RFC 9110 §13.2.2).
        (format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {modified}\r\n"), 200),
    ];
    for (headers, status) in cases {
        let response = server.request(get("/notes.txt", &headers));
        assert_eq!(response.status, status, "{headers}");
        if status == 304 {
            // The server's rule for bodyless statuses: no body, no framing; the validators stay.
            assert_eq!(
                (response.body.len(), response.header("content-type"), response.header("transfer-encoding")),
                (0, None, None),
                "{headers}"
            );
            assert_eq!(
                (response.header("etag"), response.header("last-modified")),
                (Some(&*etag), Some(&*modified))
            );
        }
    }

    // A changed file is a new tag, so the old one gets the new bytes.
    std::fs::write(root.path().join("notes.txt"), "café au lait").unwrap();
    let changed = server.request(get("/notes.txt", &format!("If-None-Match: {etag}\r\n")));
    assert_eq!((changed.status, changed.text().as_str()), (200, "café au lait"));
    assert_ne!(changed.header("etag"), Some(&*etag));
}

#[test]
fn head_gets_the_headers_and_no_body_over_the_wire() {
    let (root, _outside) = site();
    let server = common::start(Files::new(root.path()).unwrap(), common::options(), Mode::Pool);
    let response = server.request("HEAD /css/site.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(
        (
            response.status,
            response.header("content-length"),
            response.header("content-type"),
            response.body.len()
        ),
        (200, Some("6"), Some("text/css; charset=utf-8"), 0)
    );
    let etag = response.header("etag").expect("HEAD carries the validators GET does");
    let again = server.request(format!(
        "HEAD /css/site.css HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!((again.status, again.body.len()), (304, 0));
    let escaped = server.get("/%2e%2e/%2e%2e/%2e%2e/etc/passwd");
    assert_eq!(escaped.status, 403);
}

#[test]
fn every_answer_keeps_the_contract() {
    let (root, _outside) = site();
    let app = wsgi_lab::validate(Files::new(root.path()).unwrap()).with_reporter(|_| {});
    let client = testing::Client::new(&app);
    let etag = client.get("/notes.txt").header("etag").unwrap().to_string();
    let requests = [
        client.request("GET", "/notes.txt").header("If-None-Match", &etag),
        client.request("HEAD", "/notes.txt"),
        client.request("GET", "/css"),
        client.request("GET", "/css/"),
        client.request("GET", "/nope"),
        client.request("GET", "/leak.txt"),
        client.request("DELETE", "/notes.txt"),
    ];
    for request in requests {
        let status = request.send().status;
        assert!(app.last_violations().is_empty(), "{status}: {:?}", app.last_violations());
    }
}
