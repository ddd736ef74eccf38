//! Taking a lock whatever happened to the thread that held it last.
//!
//! A thread that panics while it holds a `Mutex` poisons it, and from then on `lock()` returns
//! an error. Here a panic is an app's (caught per request, SPEC §1); no lock in the crate is held
//! while app code runs, nor across a step that could leave its data half-changed, so the data
//! is still good. [`lock`] takes it anyway, rather than letting one panic break every request
//! after it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
