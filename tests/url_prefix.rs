//! Mounting an app under a URL prefix (SPEC §5): the prefix is normalised once; a path inside
//! it is split into `SCRIPT_NAME` and `PATH_INFO`; matching is case-sensitive, segment-aware
//! and done on the decoded path; a path outside gets a 404 naming the prefix. Checked through
//! a real server (`Options::url_prefix`, in single-threaded mode and with each pool engine),
//! and for the `Mount` middleware on its own and nested, with no socket.

mod common;

use common::Setup;
use wsgi_lab::testing::{self, TestResponse};
use wsgi_lab::{Body, Environ, Mode, Mount, Options, StartResponse, UrlPrefix};

/// Answers `SCRIPT_NAME|PATH_INFO`: where it was mounted and what is left of the path.
fn where_am_i(environ: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(format!("{}|{}", &environ["SCRIPT_NAME"], &environ["PATH_INFO"]))
}

/// What a request should get: `Ok("SCRIPT_NAME|PATH_INFO")`, or `Err(prefix)` for a 404
/// whose body names that prefix.
type Expected = Result<&'static str, &'static str>;

/// The SPEC §5 table for an app mounted at `/app`, however the prefix was spelled.
const UNDER_APP: [(&str, Expected); 11] = [
    ("/app", Ok("/app|")),
    ("/app?q=1", Ok("/app|")),
    ("/app/", Ok("/app|/")),
    ("/app/x/y", Ok("/app|/x/y")),
    ("/app/x/y?q=/other", Ok("/app|/x/y")),
    // Matching is on the decoded path.
    ("/ap%70/x", Ok("/app|/x")),
    ("/app%2Fx", Ok("/app|/x")),
    ("/application", Err("/app")),
    ("/App", Err("/app")),
    ("/APP/x", Err("/app")),
    ("/", Err("/app")),
];

/// The same table with no prefix: everything is the app's, `SCRIPT_NAME` is empty.
const AT_ROOT: [(&str, Expected); 4] =
    [("/", Ok("|/")), ("/x/y", Ok("|/x/y")), ("/app", Ok("|/app")), ("/ap%70", Ok("|/app"))];

/// Checks one answer against the table. `status`, `body` and `case` come from either a socket
/// or an in-process call.
fn check(status: u16, body: &str, target: &str, expected: Expected, case: &str) {
    match expected {
        Ok(text) => assert_eq!((status, body), (200, text), "{case}: GET {target}"),
        Err(prefix) => {
            assert_eq!(status, 404, "{case}: GET {target} is outside {prefix}: {body:?}");
            // The body must name the prefix, not merely echo a path that happens to contain it.
            let named = body.matches(prefix).count() > target.matches(prefix).count();
            assert!(named, "{case}: the 404 for {target} does not name {prefix}: {body:?}");
        }
    }
}

fn check_server(url_prefix: &str, setup: Setup, table: &[(&str, Expected)]) {
    let options = Options { url_prefix: url_prefix.into(), threads: 2, ..common::options() };
    let server = common::start_in(where_am_i, options, setup);
    for &(target, expected) in table {
        let response = server.get(target);
        check(
            response.status,
            &response.text(),
            target,
            expected,
            &format!("{setup:?}, url_prefix {url_prefix:?}"),
        );
    }
}

fn check_app(app: &dyn wsgi_lab::App, table: &[(&str, Expected)], case: &str) {
    for &(target, expected) in table {
        let response: TestResponse = testing::get(app, target);
        check(response.status_code(), &response.text(), target, expected, case);
    }
}

#[test]
fn the_prefix_is_normalised_to_one_leading_slash_and_no_trailing_slash() {
    for spelled in ["/app", "app", "app/", "/app/", " /app/ "] {
        assert_eq!(UrlPrefix::new(spelled).as_str(), "/app", "{spelled:?}");
    }
    for root in ["", "/", "//"] {
        assert_eq!(UrlPrefix::new(root).as_str(), "", "{root:?} means no prefix");
    }
}

#[test]
fn a_prefix_given_as_text_must_be_a_path() {
    // Accepted, and normalised as by `new`.
    for (given, prefix) in [("/my-app/", "/my-app"), ("a/b", "/a/b"), ("/", ""), ("/v1.2/x..y", "/v1.2/x..y")]
    {
        assert_eq!(UrlPrefix::parse(given).map(|p| p.as_str().to_string()), Ok(prefix.into()), "{given:?}");
    }
    // Refused, each naming its cause.
    let refused = [
        ("/app?x=1", "`?` starts the query string"),
        ("/app#top", "`#` starts the fragment"),
        ("/a/../b", "`..` segment"),
        ("/./b", "`..` segment"),
        ("..", "`..` segment"),
        ("/my app", "a space or a control character"),
        ("/a\tb", "a space or a control character"),
        ("/a\u{7f}", "a space or a control character"),
    ];
    for (given, cause) in refused {
        let message = UrlPrefix::parse(given).unwrap_err();
        assert!(message.starts_with(&format!("{given:?} is not a URL prefix: ")), "{message}");
        assert!(message.contains(cause) && message.ends_with("give a path such as /my-app"), "{message}");
    }
}

#[test]
fn a_server_mounts_its_app_under_url_prefix_in_every_mode() {
    for setup in Setup::all() {
        for spelled in ["/app", "app/"] {
            check_server(spelled, setup, &UNDER_APP);
        }
    }
}

#[test]
fn a_server_with_prefix_slash_or_empty_serves_at_the_root() {
    for setup in Setup::all() {
        for root in ["/", ""] {
            check_server(root, setup, &AT_ROOT);
        }
    }
}

#[test]
fn the_startup_line_shows_the_normalised_prefix() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { url_prefix: "app/".into(), ..common::options() };
    let server = wsgi_lab::Server::from_listener(listener, where_am_i, options, Mode::Pool).unwrap();
    let line = server.startup_line();
    assert!(line.contains(&format!("{}/app/ ", server.server_address())), "{line}");
}

#[test]
fn mount_middleware_follows_the_same_table_without_a_socket() {
    check_app(&Mount::new("app/", where_am_i), &UNDER_APP, "Mount::new(\"app/\")");
    check_app(&Mount::new("/", where_am_i), &AT_ROOT, "Mount::new(\"/\")");
}

#[test]
fn nested_mounts_concatenate_script_name() {
    let app = Mount::new("/outer", Mount::new("inner/", where_am_i));
    let table: [(&str, Expected); 6] = [
        ("/outer/inner", Ok("/outer/inner|")),
        ("/outer/inner/x/y", Ok("/outer/inner|/x/y")),
        ("/outer/inn%65r/x", Ok("/outer/inner|/x")),
        ("/outer/innerx", Err("/inner")),
        ("/outer/other", Err("/inner")),
        ("/outerx/inner", Err("/outer")),
    ];
    check_app(&app, &table, "Mount(/outer, Mount(/inner))");
}

#[test]
fn a_mount_inside_a_server_prefix_concatenates_script_name() {
    for setup in Setup::all() {
        let options = Options { url_prefix: "/api".into(), threads: 2, ..common::options() };
        let server = common::start_in(Mount::new("/v1", where_am_i), options, setup);
        let table: [(&str, Expected); 4] = [
            ("/api/v1/users/7", Ok("/api/v1|/users/7")),
            ("/api/v1", Ok("/api/v1|")),
            ("/api/v2/users", Err("/v1")),
            ("/v1/users", Err("/api")),
        ];
        for (target, expected) in table {
            let response = server.get(target);
            check(response.status, &response.text(), target, expected, &format!("{setup:?}"));
        }
    }
}
