//! The response reader, fed bytes with no socket: every framing, cut at every size of read.

use super::*;

/// The responses read, or the error that stopped the reading.
type Answers = Vec<Result<Response, String>>;

/// Feeds every response in `wire` (a HEAD request if `head`) to a reader in pieces of 1, 7
/// and 4096 bytes, as a slow network would deliver them, then ends the stream; checks all
/// three give the same answer.
fn read_all(wire: &[u8], head: bool) -> Answers {
    let answers: Vec<_> = [1, 7, 4096]
        .into_iter()
        .map(|step| {
            let mut reader = ResponseReader::new(head);
            let mut out = Vec::new();
            for piece in wire.chunks(step) {
                let mut fresh = piece;
                // One feed completes at most one response; the rest waits in the carry.
                loop {
                    match reader.feed(fresh) {
                        Ok(Some(r)) => out.push(Ok(r)),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Err(format!("{e:?}")));
                            return out;
                        }
                    }
                    fresh = &[];
                }
            }
            match reader.end_of_stream() {
                Ok(r) => out.push(Ok(r)),
                Err(ReadError::Closed) => {}
                Err(e) => out.push(Err(format!("{e:?}"))),
            }
            out
        })
        .collect();
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    answers.into_iter().next().unwrap()
}

fn ok(status: u16, keep_alive: bool) -> Result<Response, String> {
    Ok(Response { status, keep_alive })
}

#[test]
fn framings() {
    let cases: [(&str, bool, Answers); 8] = [
        (
            concat!(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
            false,
            vec![ok(200, true), ok(404, true)],
        ),
        (
            concat!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
            ),
            false,
            vec![ok(200, true)],
        ),
        ("HTTP/1.0 200 OK\r\n\r\nuntil the end", false, vec![ok(200, false)]),
        (
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
            false,
            vec![ok(200, true)],
        ),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", false, vec![ok(200, false)]),
        // A HEAD response announces a length but has no body; neither has a 204.
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            true,
            vec![ok(200, true), ok(204, true)],
        ),
        (
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
            false,
            vec![ok(304, true)],
        ),
        // Cut short: the connection ends before the body does.
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", false, vec![]),
    ];
    for (wire, head, expected) in cases {
        assert_eq!(read_all(wire.as_bytes(), head), expected, "{wire}");
    }
}

#[test]
fn malformed_responses() {
    let cases: [&[u8]; 6] = [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ];
    for wire in cases {
        let answers = read_all(wire, false);
        assert!(matches!(answers.as_slice(), [Err(e)] if e.starts_with("Malformed")), "{answers:?}");
    }
}

#[test]
fn oversized_heads_and_lines_are_refused() {
    let mut reader = ResponseReader::new(false);
    let head = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'a'; MAX_HEAD]].concat();
    assert!(matches!(reader.feed(&head), Err(ReadError::Malformed(_))));
    let mut reader = ResponseReader::new(false);
    assert!(reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap().is_none());
    assert!(matches!(reader.feed(&[b'1'; MAX_LINE + 1]), Err(ReadError::Malformed(_))));
}

#[test]
fn a_whole_response_in_one_read_leaves_nothing_behind() {
    let mut reader = ResponseReader::new(false);
    let done = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
    assert_eq!(done, Some(Response { status: 200, keep_alive: true }));
    assert!(reader.state == State::Head && !reader.has_unread(), "no copy was kept");
    assert!(matches!(reader.end_of_stream(), Err(ReadError::Closed)));
}
