//! Properties of [`wsgi_lab::http::RequestParser`], the bytes-to-requests state machine both server
//! modes share (SPEC §3 without sockets): whatever bytes arrive, in whatever pieces, it never
//! panics and ends in one of three ways (complete requests, an `HttpError` with a status SPEC §3
//! names, or a wish for more bytes); and how the bytes are split never changes what is parsed.

use proptest::prelude::*;
use std::io::Read;
use wsgi_lab::HttpError;
use wsgi_lab::http::{Head, Limits, RequestParser, Step};

/// The statuses SPEC §3 gives for a refused request.
const SPEC_STATUSES: [u16; 6] = [400, 408, 413, 431, 501, 505];

/// A parsed request as plain values: its head and its whole body.
type Parsed = (Head, Vec<u8>);

/// How feeding a connection's bytes ended.
#[derive(Debug, PartialEq)]
enum End {
    /// Every byte was used and the parser waits for more (possibly mid-request).
    NeedMore,
    /// The parser refused the stream.
    Refused(HttpError),
}

/// Pushes each piece and steps until the parser needs more, as a server's read loop does.
/// A `SendContinue` is answered by just going on (the body may already be there).
fn feed(pieces: &[&[u8]], limits: Limits) -> (Vec<Parsed>, End) {
    let mut parser = RequestParser::new(limits);
    let mut parsed = Vec::new();
    for piece in pieces {
        parser.push(piece);
        // Each step consumes bytes or changes state, so a few per byte are plenty.
        let mut steps_left = 4 * piece.len() + 16;
        loop {
            assert!(steps_left > 0, "the parser keeps stepping without progress");
            steps_left -= 1;
            match parser.step() {
                Ok(Step::NeedMore) => break,
                Ok(Step::SendContinue) => continue,
                Ok(Step::Ready(request)) => {
                    let mut body = Vec::new();
                    request.body.into_reader().unwrap().read_to_end(&mut body).unwrap();
                    parsed.push((request.head, body));
                }
                Err(error) => return (parsed, End::Refused(error)),
            }
        }
    }
    (parsed, End::NeedMore)
}

/// Cuts `bytes` at the given positions (taken modulo the length, in any order).
fn split<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// Checks the three ways an input may end (SPEC §3).
fn assert_ends_well(parsed: &[Parsed], end: &End) {
    if let End::Refused(error) = end {
        assert!(
            SPEC_STATUSES.contains(&error.status),
            "status {} is not one of SPEC §3's: {error}",
            error.status
        );
    }
    for (head, _) in parsed {
        assert!(head.minor <= 1, "parsed a request of HTTP/1.{}", head.minor);
        assert!(!head.method.is_empty());
    }
}

/// Default limits, or small ones so that 413 and 431 are reached with small inputs.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        Just(Limits { max_request_header_size: 200, max_request_body_size: 300, spool_threshold: 64 }),
    ]
}

/// A valid request: its bytes, and the head and body it must parse to.
#[derive(Debug, Clone)]
struct Valid {
    wire: Vec<u8>,
    head: Head,
    body: Vec<u8>,
}

/// How a generated request frames its body.
#[derive(Debug, Clone)]
struct BodyFraming {
    /// Chunked (HTTP/1.1 only) rather than by Content-Length.
    chunked: bool,
    /// Chunk sizes; the list repeats until the body is used up.
    sizes: Vec<usize>,
    /// `;name=value;flag` after each chunk size.
    extensions: bool,
    /// A trailer line after the last chunk.
    trailer: bool,
    /// `Expect: 100-continue` (HTTP/1.1 only).
    expect: bool,
}

prop_compose! {
    fn body_framing()(
        chunked in any::<bool>(),
        sizes in prop::collection::vec(1usize..200, 1..5),
        extensions in any::<bool>(),
        trailer in any::<bool>(),
        expect in any::<bool>(),
    ) -> BodyFraming {
        BodyFraming { chunked, sizes, extensions, trailer, expect }
    }
}

fn header() -> impl Strategy<Value = (String, String)> {
    // Values without leading or trailing blanks: httparse trims those.
    ("[A-Za-z][A-Za-z0-9-]{0,12}", "([!-~]([ -~]{0,20}[!-~])?)?").prop_filter(
        "framing headers are chosen by body_framing",
        |(name, _)| {
            !["content-length", "transfer-encoding", "expect", "host"]
                .contains(&name.to_ascii_lowercase().as_str())
        },
    )
}

prop_compose! {
    fn valid_request()(
        // CONNECT is refused whatever follows (501): it asks for a tunnel, not a resource.
        method in prop_oneof![Just("GET".to_string()), Just("POST".to_string()), "[A-Z]{1,8}"]
            .prop_filter("CONNECT is always 501", |m| m != "CONNECT"),
        target in prop_oneof!["/[a-zA-Z0-9/%._~-]{0,24}", "/[a-z/]{0,10}\\?[a-z0-9=&%+]{0,16}", Just("*".into())],
        minor in 0u8..=1,
        headers in prop::collection::vec(header(), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..600),
        framing in body_framing(),
        blank_lines in 0usize..3,
    ) -> Valid {
        Valid::build(Head { method, target, minor, headers }, body, &framing, blank_lines)
    }
}

impl Valid {
    /// Adds the framing headers to `head` and writes the request as a client would.
    fn build(mut head: Head, body: Vec<u8>, framing: &BodyFraming, blank_lines: usize) -> Valid {
        // `*` is only for OPTIONS, and every request names its host once (SPEC §3).
        if head.target == "*" {
            head.method = "OPTIONS".into();
        }
        head.headers.insert(0, ("Host".into(), "a".into()));
        let chunked = framing.chunked && head.minor == 1;
        if chunked {
            head.headers.push(("Transfer-Encoding".into(), "chunked".into()));
        } else if !body.is_empty() || framing.expect {
            head.headers.push(("Content-Length".into(), body.len().to_string()));
        }
        if framing.expect && head.minor == 1 {
            head.headers.push(("Expect".into(), "100-continue".into()));
        }
        let mut wire = "\r\n".repeat(blank_lines).into_bytes();
        wire.extend(format!("{} {} HTTP/1.{}\r\n", head.method, head.target, head.minor).bytes());
        for (name, value) in &head.headers {
            wire.extend(format!("{name}: {value}\r\n").bytes());
        }
        wire.extend_from_slice(b"\r\n");
        if chunked {
            let extension = if framing.extensions { ";name=value;flag" } else { "" };
            let mut sizes = framing.sizes.iter().copied().cycle();
            let mut rest = body.as_slice();
            while !rest.is_empty() {
                let n = sizes.next().unwrap().min(rest.len());
                wire.extend(format!("{n:x}{extension}\r\n").bytes());
                wire.extend_from_slice(&rest[..n]);
                wire.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            let last: &[u8] = if framing.trailer { b"0\r\nX-Trailer: yes\r\n\r\n" } else { b"0\r\n\r\n" };
            wire.extend_from_slice(last);
        } else {
            wire.extend_from_slice(&body);
        }
        Valid { wire, head, body }
    }
}

/// A change to a valid request: overwrite, insert or remove bytes at a position.
#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Remove(prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the grammar are more likely than others.
    let byte =
        prop_oneof![prop::sample::select(b"\r\n :;=\"0123456789abcdefABCDEF\t\0,-/".to_vec()), any::<u8>()];
    let bytes = prop::collection::vec(byte.clone(), 1..6);
    prop_oneof![
        (any::<prop::sample::Index>(), byte).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<prop::sample::Index>(), bytes).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<prop::sample::Index>(), 1usize..8).prop_map(|(at, n)| Mutation::Remove(at, n)),
    ]
}

fn mutate(mut wire: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for change in mutations {
        match change {
            Mutation::Set(at, byte) if !wire.is_empty() => {
                let i = at.index(wire.len());
                wire[i] = *byte;
            }
            Mutation::Set(..) => {}
            Mutation::Insert(at, bytes) => {
                let i = at.index(wire.len() + 1);
                wire.splice(i..i, bytes.iter().copied());
            }
            Mutation::Remove(at, n) => {
                let i = at.index(wire.len() + 1);
                wire.drain(i..(i + n).min(wire.len()));
            }
        }
    }
    wire
}

/// The status of an end, with the one legitimate difference between splits folded: a head
/// that is both too large and malformed is refused as too large (431) when it arrives in pieces
/// (the limit is checked while waiting for the rest) and may be refused as malformed (400) when
/// it arrives at once.
fn end_kind(end: &End) -> Option<u16> {
    match end {
        End::NeedMore => None,
        End::Refused(error) if error.status == 431 => Some(400),
        End::Refused(error) => Some(error.status),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic_and_end_as_spec_says(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        limits in limits(),
    ) {
        let (parsed, end) = feed(&split(&bytes, &cuts), limits);
        assert_ends_well(&parsed, &end);
    }

    #[test]
    fn random_bytes_after_a_request_line_never_panic(
        line in prop_oneof![Just("GET / HTTP/1.1\r\nHost: a\r\n"), Just("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")],
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        limits in limits(),
    ) {
        let wire = [line.as_bytes(), &bytes].concat();
        let (parsed, end) = feed(&split(&wire, &cuts), limits);
        assert_ends_well(&parsed, &end);
    }

    #[test]
    fn mutated_requests_never_panic_and_do_not_depend_on_the_split(
        requests in prop::collection::vec(valid_request(), 1..3),
        mutations in prop::collection::vec(mutation(), 1..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        limits in limits(),
    ) {
        let wire = mutate(requests.iter().flat_map(|r| r.wire.clone()).collect(), &mutations);
        let (parsed, end) = feed(&split(&wire, &cuts), limits);
        assert_ends_well(&parsed, &end);
        let (at_once, end_at_once) = feed(&[&wire], limits);
        prop_assert_eq!(&parsed, &at_once);
        prop_assert_eq!(end_kind(&end), end_kind(&end_at_once), "{:?} / {:?}", end, end_at_once);
    }

    #[test]
    fn valid_requests_split_anywhere_parse_as_in_one_piece(
        requests in prop::collection::vec(valid_request(), 1..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        // Pipelined one after the other, on one connection.
        let wire: Vec<u8> = requests.iter().flat_map(|r| r.wire.clone()).collect();
        let expected: Vec<Parsed> = requests.iter().map(|r| (r.head.clone(), r.body.clone())).collect();
        let limits = Limits::default();
        let (at_once, end) = feed(&[&wire], limits);
        prop_assert_eq!(&at_once, &expected);
        prop_assert_eq!(end, End::NeedMore);
        let (in_pieces, end) = feed(&split(&wire, &cuts), limits);
        prop_assert_eq!(&in_pieces, &expected);
        prop_assert_eq!(end, End::NeedMore);
    }

    #[test]
    fn a_valid_request_fed_byte_by_byte_parses_as_in_one_piece(request in valid_request()) {
        let bytes: Vec<&[u8]> = request.wire.chunks(1).collect();
        let (parsed, end) = feed(&bytes, Limits::default());
        prop_assert_eq!(parsed, vec![(request.head, request.body)]);
        prop_assert_eq!(end, End::NeedMore);
    }
}

/// The SendContinue answer: a head with `Expect: 100-continue` asks for it before its body,
/// and a refused one (too large) never does.
#[test]
fn send_continue_comes_after_the_head_and_never_for_a_refused_request() {
    let mut parser = RequestParser::new(Limits::default());
    parser.push(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    assert!(matches!(parser.step(), Ok(Step::SendContinue)));
    assert!(matches!(parser.step(), Ok(Step::NeedMore)));
    parser.push(b"hi");
    assert!(matches!(parser.step(), Ok(Step::Ready(_))));

    let small = Limits { max_request_body_size: 1, ..Limits::default() };
    let mut parser = RequestParser::new(small);
    parser.push(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    assert!(matches!(parser.step(), Err(HttpError { status: 413, .. })));
}
