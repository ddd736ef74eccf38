//! An app's panic, reported once. A server catches what its app panics with (the worker
//! survives, the client gets a 500 or a cut-off response) and logs it in its own voice, with
//! where it happened. Rust's default panic hook would print it a second time, with a backtrace
//! hint; so while app code runs under [`catch_panic`], the hook only notes where the panic
//! happened (and the backtrace, when `RUST_BACKTRACE` asks for one) for the server's log line.
//! Panics anywhere else go to the hook that was there before.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// Whether this thread is running app code under [`catch_panic`].
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened, as the hook saw it, and its backtrace if one was
    /// asked for.
    static WHERE: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Runs app code (the app, or its body) and turns a panic into its message and place: the
/// worker that runs it survives, and the server decides what the client gets.
///
/// ```
/// use wsgi_lab::http::response::catch_panic;
/// assert_eq!(catch_panic(|| 1 + 1), Ok(2));
/// let message = catch_panic(|| -> u8 { panic!("boom") }).unwrap_err();
/// assert!(message.starts_with("boom (at "), "{message}");
/// ```
pub fn catch_panic<T>(code: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let outer = CATCHING.replace(true);
    let caught = catch_unwind(AssertUnwindSafe(code));
    CATCHING.set(outer);
    caught.map_err(|payload| {
        let message = panic_message(payload.as_ref());
        match WHERE.take() {
            Some((place, backtrace)) => format!("{message} (at {place}){backtrace}"),
            None => message,
        }
    })
}

/// Puts the hook in place, once per process; the CLI calls it first thing, so that hooks set
/// later (`compare` counts the app's panics with one) wrap this one.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let before = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.get() {
                return before(info);
            }
            let place = info.location().map_or_else(|| "an unknown place".to_string(), |l| l.to_string());
            let backtrace = match Backtrace::capture() {
                b if b.status() == BacktraceStatus::Captured => format!("\n{b}"),
                _ => String::new(),
            };
            WHERE.set(Some((place, backtrace)));
        }));
    });
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
