//! The lab bench: tools that measure a server from the outside, as a class would with `wrk`,
//! and watch it from the inside.
//!
//! | module | what it holds |
//! |---|---|
//! | [`bench`](mod@bench) | a closed-loop HTTP/1.1 load generator: [`run`](bench::run) a [`BenchConfig`](bench::BenchConfig), read the [`BenchReport`](bench::BenchReport) |
//! | [`compare`] | one workload against several thread counts and engines, side by side, also interactively |
//! | [`watch`] | the live view of what each worker is doing |

pub mod bench;
pub mod compare;
pub mod watch;
