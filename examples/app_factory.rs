//! The app factory: `waitress-serve --call hello:create_app` builds the app by calling a
//! function, instead of importing a ready-made one (`hello:app`). The factory is where
//! configuration goes in, so tests and production can build differently configured apps.
//!
//! ```python
//! def create_app():
//!     app = Flask(__name__)
//!     @app.route('/')
//!     def index():
//!         return 'Hello from the factory'
//!     return app
//! ```
//! ```text
//! $ waitress-serve --host 127.0.0.1 --call hello:create_app
//! Serving on http://127.0.0.1:8080
//! ```
//!
//! Run it with `cargo run --release --example app_factory`, then `curl http://127.0.0.1:8080/`
//! and `curl http://127.0.0.1:8080/config`. `GREETING=Bonjour cargo run --release --example
//! app_factory` builds the app with another setting.
//!
//! The Python twin, run on the real servers: `examples/python/app_factory.py` (how to run it:
//! `examples/python/README.md`).

mod common;

use std::process::ExitCode;
use wsgi_lab::router::{Request, Router};
use wsgi_lab::{Options, serve};

/// What the factory is configured with.
struct Config {
    greeting: String,
}

/// The factory: a new, configured app each time it is called.
fn create_app(config: Config) -> Router {
    let greeting = config.greeting.clone();
    Router::new()
        .route("/", move |_: &Request| format!("{greeting} from the factory"))
        .route("/config", move |_: &Request| format!("greeting = {:?}", config.greeting))
}

fn main() -> ExitCode {
    common::run(|| {
        let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_string());
        let app = create_app(Config { greeting });
        serve(app, Options { host: "127.0.0.1".into(), port: common::port(8080)?, ..Options::default() })
    })
}
