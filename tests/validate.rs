//! The contract checker (wsgiref's `validate.py`): one test per rule, each asserting that the
//! message names the mistake and says what to do instead, and that the request is answered
//! with a 500 listing it. Then the other side: every built-in app keeps the contract.

use std::sync::{Arc, Mutex};
use wsgi_lab::validate::{Rule, Validator, check_environ, validate};
use wsgi_lab::{App, Body, Environ, StartResponse, apps, testing};

/// A validator whose reports are collected instead of logged.
fn quiet<A: App>(app: A) -> (Validator<A>, Arc<Mutex<Vec<String>>>) {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let sink = reported.clone();
    let validator = validate(app).with_reporter(move |v| sink.lock().unwrap().push(v.to_string()));
    (validator, reported)
}

/// An app that passes `status` and `headers` to `start_response` and returns `body`.
fn starting(
    status: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static str,
) -> impl App {
    move |_: &Environ, start_response: StartResponse| {
        start_response(status, headers.clone());
        Body::from(body)
    }
}

/// Runs `app` through the validator with a testing environ and checks that exactly `rule` is
/// reported, with a message containing both `mistake` and `fix`; the response is the 500 that
/// lists it.
fn assert_violation(app: impl App, rule: Rule, mistake: &str, fix: &str) {
    let (validator, reported) = quiet(app);
    let response = testing::get(&validator, "/");
    let found = validator.last_violations();
    assert_eq!(found.iter().map(|v| v.rule).collect::<Vec<_>>(), vec![rule], "{found:?}");
    let message = &found[0].message;
    assert!(message.contains(mistake), "{message:?} does not name the mistake {mistake:?}");
    assert!(message.contains(fix), "{message:?} does not suggest the fix {fix:?}");
    assert_eq!(response.status_code(), 500);
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(response.text().contains(message.as_str()), "the 500 body does not list it: {}", response.text());
    assert_eq!(reported.lock().unwrap().as_slice(), [found[0].to_string()]);
}

/// A testing environ as a server would build it, with one key changed (or removed).
fn environ_with(key: &str, value: Option<&str>) -> Environ {
    let mut environ = Environ::new();
    wsgi_lab::util::setup_testing_defaults(&mut environ);
    match value {
        Some(value) => environ.set(key, value),
        None => {
            environ.remove(key);
        }
    }
    environ
}

/// Checks one broken environ: the rule, the message, and that the app was not called.
fn assert_environ_violation(environ: Environ, rule: Rule, mistake: &str, fix: &str) {
    let found = check_environ(&environ);
    assert_eq!(found.iter().map(|v| v.rule).collect::<Vec<_>>(), vec![rule], "{found:?}");
    assert!(found[0].message.contains(mistake), "{:?} does not name {mistake:?}", found[0].message);
    assert!(found[0].message.contains(fix), "{:?} does not suggest {fix:?}", found[0].message);
    assert!(found[0].to_string().starts_with("server: "));

    // Through the middleware: a 500, and the app never ran.
    let called = Arc::new(Mutex::new(false));
    let flag = called.clone();
    let (validator, _) = quiet(move |_: &Environ, start_response: StartResponse| {
        *flag.lock().unwrap() = true;
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from("ran")
    });
    let start_calls = std::cell::RefCell::new(Vec::new());
    let start = |status: &str, _: Vec<(&str, &str)>| start_calls.borrow_mut().push(status.to_string());
    let body: Vec<u8> = validator.call(&environ, StartResponse::new(&start, &start)).flatten().collect();
    let start_calls = start_calls.into_inner();
    assert_eq!(start_calls, ["500 Internal Server Error"]);
    assert!(String::from_utf8_lossy(&body).contains(mistake));
    assert!(!*called.lock().unwrap(), "the app was called with a broken environ");
}

#[test]
fn missing_required_key() {
    for key in wsgi_lab::validate::REQUIRED_KEYS {
        assert_environ_violation(
            environ_with(key, None),
            Rule::MissingKey,
            &format!("has no {key}"),
            "set it",
        );
    }
}

#[test]
fn script_name_with_trailing_slash() {
    let environ = environ_with("SCRIPT_NAME", Some("/my-app/"));
    assert_environ_violation(environ, Rule::ScriptName, "not end with '/'", "UrlPrefix::new");
}

#[test]
fn script_name_without_leading_slash() {
    let environ = environ_with("SCRIPT_NAME", Some("my-app"));
    assert_environ_violation(environ, Rule::ScriptName, "start with '/'", "such as \"/my-app\"");
}

#[test]
fn path_info_without_leading_slash() {
    let environ = environ_with("PATH_INFO", Some("hello"));
    assert_environ_violation(
        environ,
        Rule::PathInfo,
        "PATH_INFO \"hello\"",
        "reduce the request target to its path",
    );
}

#[test]
fn content_length_not_digits() {
    let environ = environ_with("CONTENT_LENGTH", Some("12abc"));
    assert_environ_violation(
        environ,
        Rule::RequestContentLength,
        "\"12abc\" is not all digits",
        "leave the key out",
    );
}

#[test]
fn request_method_not_a_token() {
    let environ = environ_with("REQUEST_METHOD", Some("GET /"));
    assert_environ_violation(environ, Rule::RequestMethod, "not an HTTP token", "answer 400");
}

#[test]
fn url_scheme_not_http() {
    let environ = environ_with("wsgi.url_scheme", Some("ftp"));
    assert_environ_violation(environ, Rule::UrlScheme, "\"ftp\"", "set it to the scheme the client used");
}

#[test]
fn a_correct_environ_passes() {
    let mut environ = environ_with("SCRIPT_NAME", Some("/my-app"));
    environ.set("PATH_INFO", "");
    environ.set("CONTENT_LENGTH", "0");
    environ.set("wsgi.url_scheme", "https");
    assert_eq!(check_environ(&environ), vec![]);
}

#[test]
fn malformed_status() {
    assert_violation(
        starting("200", vec![("Content-Type", "text/plain")], ""),
        Rule::Status,
        "\"200\"",
        "\"200 OK\"",
    );
}

#[test]
fn header_name_not_a_token() {
    let app = starting("200 OK", vec![("Content-Type", "text/plain"), ("X Bad", "1")], "");
    assert_violation(app, Rule::Header, "\"X Bad\" is not an HTTP token", "use letters, digits and '-'");
}

#[test]
fn header_value_with_line_break() {
    let app =
        starting("200 OK", vec![("Content-Type", "text/plain"), ("X-Evil", "a\r\nSet-Cookie: x=1")], "");
    assert_violation(app, Rule::Header, "CR, LF or NUL", "remove the line break");
}

#[test]
fn hop_by_hop_header() {
    let app = starting("200 OK", vec![("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")], "");
    assert_violation(app, Rule::Header, "hop-by-hop", "remove it");
}

#[test]
fn missing_content_type() {
    assert_violation(
        starting("200 OK", vec![], "hi"),
        Rule::ContentType,
        "needs a Content-Type",
        "add (\"Content-Type\"",
    );
}

#[test]
fn content_type_on_204_and_304() {
    for status in ["204 No Content", "304 Not Modified"] {
        let app = starting(status, vec![("Content-Type", "text/plain")], "");
        assert_violation(app, Rule::ContentType, "must not carry a Content-Type", "remove the header");
    }
}

#[test]
fn no_content_type_needed_on_204_304_and_1xx() {
    for status in ["204 No Content", "304 Not Modified", "103 Early Hints"] {
        let (validator, _) = quiet(starting(status, vec![], ""));
        testing::get(&validator, "/");
        assert_eq!(validator.last_violations(), vec![], "{status}");
    }
}

#[test]
fn content_type_twice() {
    let app = starting("200 OK", vec![("Content-Type", "text/plain"), ("content-type", "text/html")], "");
    assert_violation(app, Rule::ContentType, "set 2 times", "set it once");
}

#[test]
fn content_length_not_a_number() {
    let app = starting("200 OK", vec![("Content-Type", "text/plain"), ("Content-Length", "ten")], "");
    assert_violation(app, Rule::ContentLength, "\"ten\" is not a number", "pass the body's size in bytes");
}

/// The server's rule: a length the server could not frame by (beyond 64 bits) is refused here
/// too; before, the validator let it through to a 500 from the server.
#[test]
fn content_length_too_large() {
    let app = starting(
        "200 OK",
        vec![("Content-Type", "text/plain"), ("Content-Length", "18446744073709551616")],
        "",
    );
    assert_violation(app, Rule::ContentLength, "18446744073709551616 is too large", "pass the body's size");
}

#[test]
fn content_length_set_twice() {
    let app = starting(
        "200 OK",
        vec![("Content-Type", "text/plain"), ("Content-Length", "2"), ("content-length", "2")],
        "hi",
    );
    assert_violation(app, Rule::ContentLength, "set 2 times", "set it once");
}

#[test]
fn content_length_disagrees_with_a_listed_body() {
    let app =
        starting("200 OK", vec![("Content-Type", "text/plain"), ("Content-Length", "10")], "Hello, World!");
    assert_violation(app, Rule::ContentLength, "says 10 but the body has 13 bytes", "let the server count");
}

/// 1xx joined 204 and 304 here when the validator started using the server's one rule for
/// statuses without a body (`status_has_body`); before, body bytes on a 1xx passed.
#[test]
fn body_on_1xx_204_and_304() {
    for status in ["103 Early Hints", "204 No Content", "304 Not Modified"] {
        let code = &status[..3];
        assert_violation(
            starting(status, vec![], "oops"),
            Rule::BodyNotAllowed,
            &format!("status {code} must have an empty body, but it has 4 bytes"),
            "Body::empty()",
        );
    }
}

#[test]
fn start_response_called_twice() {
    let app = |_: &Environ, start_response: StartResponse| {
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        start_response("404 Not Found", vec![("Content-Type", "text/plain")]);
        Body::from("which one?")
    };
    assert_violation(
        app,
        Rule::StartedTwice,
        "called a second time",
        "start_response.error(status, headers)",
    );
}

#[test]
fn the_error_form_may_replace_the_status() {
    let app = |_: &Environ, start_response: StartResponse| {
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        start_response.error("503 Service Unavailable", vec![("Content-Type", "text/plain")]);
        Body::from("busy")
    };
    let (validator, _) = quiet(app);
    let response = testing::get(&validator, "/");
    assert_eq!(validator.last_violations(), vec![]);
    assert_eq!((response.status.as_str(), response.text().as_str()), ("503 Service Unavailable", "busy"));
}

#[test]
fn body_returned_before_start_response() {
    let app = |_: &Environ, _: StartResponse| Body::from("no status");
    assert_violation(
        app,
        Rule::NotStarted,
        "without calling start_response",
        "call start_response(status, headers)",
    );
}

#[test]
fn several_mistakes_are_all_listed() {
    let app = starting("OK", vec![("Connection", "close")], "");
    let (validator, reported) = quiet(app);
    let response = testing::get(&validator, "/");
    let rules: Vec<Rule> = validator.last_violations().iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::Status, Rule::Header]);
    assert!(response.text().contains("(2 violations)"), "{}", response.text());
    assert_eq!(reported.lock().unwrap().len(), 2);
}

#[test]
fn a_streaming_body_is_passed_through_unread() {
    let app = |_: &Environ, start_response: StartResponse| {
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::stream((0..3).map(|i| vec![b'a' + i]))
    };
    let (validator, _) = quiet(app);
    let start = |_: &str, _: Vec<(&str, &str)>| {};
    let body = validator.call(&environ_with("PATH_INFO", Some("/")), StartResponse::new(&start, &start));
    assert_eq!(body.known_chunks(), None, "the stream was replaced by a list");
    assert_eq!(body.flatten().collect::<Vec<u8>>(), b"abc");
}

#[test]
fn a_panic_is_not_caught_by_the_validator() {
    let (validator, _) = quiet(|_: &Environ, _: StartResponse| -> Body { panic!("boom") });
    let start = |_: &str, _: Vec<(&str, &str)>| {};
    let environ = environ_with("PATH_INFO", Some("/"));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        validator.call(&environ, StartResponse::new(&start, &start))
    }));
    assert!(outcome.is_err(), "the panic should reach the server");
}

#[test]
fn every_built_in_app_keeps_the_contract() {
    for (name, _) in apps::APPS {
        let app = apps::by_name(name).unwrap_or_else(|| panic!("no built-in app {name}"));
        let (validator, reported) = quiet(app);
        for target in ["/", "/x?ms=1&n=10&chunks=2&size=3", "/after"] {
            // The error app's /after body panics on purpose after its first chunk, when
            // testing::get reads it; the validator has judged the response by then.
            let answered =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| testing::get(&validator, target)));
            assert_eq!(validator.last_violations(), vec![], "{name} {target}");
            assert!(reported.lock().unwrap().is_empty(), "{name} {target}");
            match answered {
                Ok(response) => {
                    assert_ne!(response.status_code(), 500, "{name} {target}: {}", response.text())
                }
                Err(_) => assert_eq!((name, target), ("error", "/after"), "only the error app may panic"),
            }
        }
    }
}
