//! The tiny framework, in process (no sockets): routes and methods, parameters, Flask's
//! defaults (text is 200 text/html, 404, 405 with Allow), the return forms, and a router
//! mounted under a prefix, since a framework is just an app.

use wsgi_lab::router::{Request, Response, Router};
use wsgi_lab::testing::{self, TestResponse};
use wsgi_lab::validate::validate;
use wsgi_lab::{Environ, Mount};

fn app() -> Router {
    Router::new()
        .route("/", |_: &Request| "Hello, World!")
        .route("/users/<name>", |r: &Request| format!("user {}", r.param("name").unwrap()))
        .route("/posts/<int:id>", |r: &Request| format!("post {}", r.param("id").unwrap()))
        .route("/files/<path:rest>", |r: &Request| format!("file {}", r.param("rest").unwrap()))
        .route("/search", |r: &Request| format!("q={:?}", r.query("q")))
        .route_methods("/items", &["GET", "POST"], |r: &Request| format!("{} items", r.method()))
        .post("/form", |r: &Request| format!("name={}", r.form("name").unwrap_or_default()))
        .route("/created", |_: &Request| (201, vec![("Content-Type", "text/plain"), ("X-Id", "7")], "made"))
        .route("/teapot", |_: &Request| (418, "short and stout"))
        .route("/json", |_: &Request| serde_json::json!({"ok": true}))
        .route("/empty", |_: &Request| Response::new(204, wsgi_lab::Body::empty()))
        .route("/where", |r: &Request| format!("{} | {}", &r.environ()["SCRIPT_NAME"], r.path()))
}

/// A request with `method`, `target` and `body`, as a server would pass it.
fn call(router: &Router, method: &str, target: &str, body: &[u8]) -> TestResponse {
    let (path, query) = wsgi_lab::environ::split_target(target);
    let mut environ = Environ::new();
    environ.set("REQUEST_METHOD", method);
    environ.set("PATH_INFO", wsgi_lab::environ::decode_path(path));
    environ.set("QUERY_STRING", query);
    environ.set_input(body.to_vec());
    testing::call(router, environ)
}

#[test]
fn text_is_200_text_html_as_in_flask() {
    let response = testing::get(&app(), "/");
    assert_eq!(response.status, "200 OK");
    assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(response.text(), "Hello, World!");
}

#[test]
fn path_parameters() {
    let router = app();
    assert_eq!(testing::get(&router, "/users/ada").text(), "user ada");
    // Parameters are percent-decoded UTF-8, not PEP 3333's one char per byte.
    assert_eq!(testing::get(&router, "/users/Ad%C3%A9le").text(), "user Adéle");
    assert_eq!(testing::get(&router, "/posts/42").text(), "post 42");
    assert_eq!(testing::get(&router, "/posts/forty-two").status_code(), 404, "<int:> takes digits only");
    assert_eq!(testing::get(&router, "/files/a/b/c.txt").text(), "file a/b/c.txt");
    assert_eq!(testing::get(&router, "/users/").status_code(), 404, "a parameter is never empty");
    assert_eq!(testing::get(&router, "/users/ada/more").status_code(), 404);
}

#[test]
fn query_values() {
    assert_eq!(testing::get(&app(), "/search?q=rust+web&x=1").text(), "q=Some(\"rust web\")");
    assert_eq!(testing::get(&app(), "/search").text(), "q=None");
}

#[test]
fn unknown_path_is_404() {
    let response = testing::get(&app(), "/nowhere");
    assert_eq!(response.status, "404 Not Found");
    assert!(response.text().contains("no route matches /nowhere"), "{}", response.text());
    assert_eq!(testing::get(&app(), "/users").status_code(), 404);
    assert_eq!(testing::get(&app(), "/search/").status_code(), 404, "no trailing-slash redirect");
}

#[test]
fn wrong_method_is_405_with_allow() {
    let response = call(&app(), "DELETE", "/items", b"");
    assert_eq!(response.status, "405 Method Not Allowed");
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
    assert!(
        response.text().contains("/items answers GET, HEAD, OPTIONS, POST, not DELETE"),
        "{}",
        response.text()
    );

    let response = call(&app(), "GET", "/form", b"");
    assert_eq!((response.status_code(), response.header("allow")), (405, Some("OPTIONS, POST")));
}

#[test]
fn methods_given_are_answered() {
    assert_eq!(call(&app(), "POST", "/items", b"").text(), "POST items");
    assert_eq!(call(&app(), "GET", "/items", b"").text(), "GET items");
    assert_eq!(call(&app(), "POST", "/form", b"name=Ada+L%C3%B6").text(), "name=Ada Lö");
}

#[test]
fn head_runs_the_get_route_and_options_lists_the_methods() {
    let head = call(&app(), "HEAD", "/", b"");
    assert_eq!(
        (head.status_code(), head.text().as_str()),
        (200, "Hello, World!"),
        "the server drops the body"
    );
    let options = call(&app(), "OPTIONS", "/items", b"");
    assert_eq!((options.status_code(), options.header("allow")), (200, Some("GET, HEAD, OPTIONS, POST")));
    assert!(options.body.is_empty());
}

#[test]
fn tuples_json_and_responses() {
    let router = app();
    let created = testing::get(&router, "/created");
    assert_eq!(created.status, "201 Created");
    assert_eq!(created.header("content-type"), Some("text/plain"));
    assert_eq!((created.header("x-id"), created.text().as_str()), (Some("7"), "made"));

    let teapot = testing::get(&router, "/teapot");
    assert_eq!(teapot.status_code(), 418);
    assert_eq!(teapot.header("content-type"), Some("text/html; charset=utf-8"));

    let json = testing::get(&router, "/json");
    assert_eq!(
        (json.header("content-type"), json.text().as_str()),
        (Some("application/json"), "{\"ok\":true}")
    );

    let empty = testing::get(&router, "/empty");
    assert_eq!((empty.status.as_str(), empty.header("content-type")), ("204 No Content", None));
}

#[test]
fn statuses_without_a_body_get_no_default_content_type() {
    for code in [103, 204, 304] {
        let router = Router::new().route("/", move |_: &Request| (code, ""));
        let checked = validate(router).with_reporter(|v| panic!("violation: {v}"));
        let response = testing::get(&checked, "/");
        assert_eq!((response.status_code(), response.header("content-type")), (code, None));
    }
}

#[test]
fn first_matching_route_wins() {
    let router = Router::new()
        .route("/users/me", |_: &Request| "me")
        .route("/users/<name>", |r: &Request| r.param("name").unwrap().to_string());
    assert_eq!(testing::get(&router, "/users/me").text(), "me");
    assert_eq!(testing::get(&router, "/users/bob").text(), "bob");
}

#[test]
fn mounted_under_a_prefix() {
    let mounted = Mount::new("/my-app", app());
    assert_eq!(testing::get(&mounted, "/my-app/where").text(), "/my-app | /where");
    assert_eq!(testing::get(&mounted, "/my-app/users/ada").text(), "user ada");
    assert_eq!(testing::get(&mounted, "/my-app").text(), "Hello, World!", "the prefix alone is the root");
    assert_eq!(testing::get(&mounted, "/where").status_code(), 404, "outside the prefix");
}

#[test]
fn every_answer_keeps_the_contract() {
    let checked = validate(app()).with_reporter(|v| panic!("violation: {v}"));
    for target in ["/", "/users/ada", "/nowhere", "/created", "/teapot", "/json", "/empty", "/form"] {
        testing::get(&checked, target);
        assert_eq!(checked.last_violations(), vec![], "{target}");
    }
}

#[test]
#[should_panic(expected = "must start with '/'")]
fn a_route_without_a_leading_slash_is_refused_at_once() {
    let _ = Router::new().route("users", |_: &Request| "");
}

#[test]
#[should_panic(expected = "unknown converter \"float\"")]
fn an_unknown_converter_is_refused_at_once() {
    let _ = Router::new().route("/<float:x>", |_: &Request| "");
}

#[test]
#[should_panic(expected = "must come last")]
fn a_path_parameter_must_come_last() {
    let _ = Router::new().route("/<path:p>/x", |_: &Request| "");
}
