//! The HTTP/1.x layer shared by both server modes: the request head ([`parse_head`]), the
//! body ([`BodyDecoder`], [`RequestBody`]), the [`RequestParser`] that turns bytes into requests, the
//! [`response`] writer, the request target's forms ([`check_target`], [`split_target`]), and
//! [`HttpError`], the errors that render themselves.

mod body;
mod error;
mod head;
mod parser;
pub mod response;
mod target;

pub use body::{BodyDecoder, Chunked, RequestBody, is_tchar};
pub use error::{HttpError, reason};
pub use head::{Framing, Head, MAX_HEADERS, parse_head};
pub use parser::{Limits, READ_CHUNK, Request, RequestParser, Step};
pub use target::{check_target, decode_path, latin1, split_target};
