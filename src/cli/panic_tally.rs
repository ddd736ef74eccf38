//! `compare`'s panic tally: the app's panics counted while a comparison measures, and summarised
//! once at the end, instead of a line per request.

use std::collections::BTreeMap;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Mutex};
use std::thread;

/// Panics counted instead of printed, while `compare` measures: a panic hook for the duration
/// of the measurement only (the previous hook comes back in [`PanicTally::finish`], or on drop),
/// installed by the command line, never by the library, which leaves the process's hook alone.
///
/// Only panics on other threads (the app, in the server's workers) are counted: one on this
/// thread is a bug of `compare` itself and goes to the previous hook as usual.
pub(super) struct PanicTally {
    /// Each distinct message, with its place, and how often it happened.
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    /// The hook that was there before, restored at the end.
    previous: Option<Arc<PanicHook>>,
}

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

impl PanicTally {
    pub(super) fn install() -> PanicTally {
        let previous: Arc<PanicHook> = Arc::new(panic::take_hook());
        let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let (tally, chain, home) = (Arc::clone(&counts), Arc::clone(&previous), thread::current().id());
        panic::set_hook(Box::new(move |info| {
            if thread::current().id() == home {
                return chain(info);
            }
            let message = match (info.payload_as_str(), info.location()) {
                (Some(text), Some(at)) => format!("{text} ({at})"),
                (Some(text), None) => text.to_string(),
                (None, Some(at)) => format!("a panic without a message ({at})"),
                (None, None) => "a panic without a message".to_string(),
            };
            // A poisoned map still counts: a panic while counting must not hide the others.
            *tally.lock().unwrap_or_else(|e| e.into_inner()).entry(message).or_default() += 1;
        }));
        PanicTally { counts, previous: Some(previous) }
    }

    /// Restores the previous hook and returns the summary: one line per distinct message with
    /// its count, or nothing if nothing panicked.
    pub(super) fn finish(mut self) -> String {
        self.restore();
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.is_empty() {
            return String::new();
        }
        let total: u64 = counts.values().sum();
        let mut out = format!(
            "\n{total} panics while measuring, by message (a panic of the app answers 500 or cuts the \
             response short):\n"
        );
        for (message, n) in counts.iter() {
            out += &format!("  {n} × {message}\n");
        }
        out
    }

    fn restore(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ours = panic::take_hook();
            panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

impl Drop for PanicTally {
    /// An early return (an error of `compare`) still puts the previous hook back.
    fn drop(&mut self) {
        self.restore();
    }
}
