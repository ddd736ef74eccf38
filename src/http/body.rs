//! The request body: decoding it (by length or chunked) as bytes arrive, and keeping it in
//! memory or, past a threshold, in an anonymous temporary file.

use super::HttpError;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

/// The received body of one request. Small bodies stay in memory; once a body grows past the
/// spool threshold it moves to an anonymous temporary file (deleted by the OS when closed), so
/// a 100 MB upload costs disk, not memory.
#[derive(Debug)]
pub struct RequestBody {
    memory: Vec<u8>,
    file: Option<File>,
    len: u64,
    threshold: usize,
}

impl RequestBody {
    /// An empty body that spills to a temporary file past `threshold` bytes.
    pub fn new(threshold: usize) -> Self {
        RequestBody { memory: Vec::new(), file: None, len: 0, threshold }
    }

    /// A body held in memory, for tests and for the in-process client.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        RequestBody { len: bytes.len() as u64, memory: bytes, file: None, threshold: usize::MAX }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no byte was received.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + data.len() > self.threshold {
            let mut file = tempfile::tempfile()?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(data)?,
            None => self.memory.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// A reader positioned at the first byte of the body.
    pub fn into_reader(self) -> io::Result<Box<dyn Read>> {
        match self.file {
            Some(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                Ok(Box::new(io::BufReader::new(file)))
            }
            // No body, as for most requests: an empty reader takes no memory to box.
            None if self.len == 0 => Ok(Box::new(io::empty())),
            None => Ok(Box::new(Cursor::new(self.memory))),
        }
    }
}

/// Decodes a body as its bytes arrive, in whatever pieces the network delivers them.
#[derive(Debug)]
pub enum BodyDecoder {
    /// `Content-Length`: this many bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
}

/// Where a chunked decoder is within the stream.
#[derive(Debug)]
pub enum Chunked {
    /// Reading a `size[;extensions]` line.
    Size(Vec<u8>),
    /// Inside a chunk's data, this many bytes to go.
    Data(u64),
    /// After a chunk's data: these bytes of its CRLF seen.
    DataEnd(u8),
    /// Reading trailer lines after the last chunk; the bytes of the current line.
    Trailers(Vec<u8>, usize),
    /// The final empty line was read.
    Done,
}

/// The longest chunk-size line (with extensions) or trailer section accepted.
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 65536;

impl BodyDecoder {
    /// Feeds `input` to the decoder, appending decoded bytes to `body`. Returns how many input
    /// bytes belonged to the body, and whether the body is complete. Bytes after the end of the
    /// body are not consumed: they are the next pipelined request.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut RequestBody,
        max_body: u64,
    ) -> Result<(usize, bool), HttpError> {
        let store = |body: &mut RequestBody, data: &[u8]| -> Result<(), HttpError> {
            if body.len() + data.len() as u64 > max_body {
                return Err(HttpError::new(413, format!("request body larger than {max_body} bytes")));
            }
            body.append(data)
                .map_err(|e| HttpError::new(500, format!("could not store the request body: {e}")))
        };
        match self {
            BodyDecoder::Length(remaining) => {
                let n = (*remaining).min(input.len() as u64) as usize;
                store(body, &input[..n])?;
                *remaining -= n as u64;
                Ok((n, *remaining == 0))
            }
            BodyDecoder::Chunked(state) => {
                let mut used = 0;
                while used < input.len() && !matches!(state, Chunked::Done) {
                    used += state.step(&input[used..], &mut |data| store(body, data))?;
                }
                Ok((used, matches!(state, Chunked::Done)))
            }
        }
    }
}

impl Chunked {
    /// Consumes a prefix of `input` (at least one byte) and moves the state on.
    fn step(
        &mut self,
        input: &[u8],
        store: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<usize, HttpError> {
        match self {
            Chunked::Size(line) => {
                let (used, complete) = take_line(line, input, MAX_LINE, "chunk size line")?;
                if complete {
                    let size = parse_chunk_size(line)?;
                    *self = if size == 0 { Chunked::Trailers(Vec::new(), 0) } else { Chunked::Data(size) };
                }
                Ok(used)
            }
            Chunked::Data(remaining) => {
                let n = (*remaining).min(input.len() as u64) as usize;
                store(&input[..n])?;
                *remaining -= n as u64;
                if *remaining == 0 {
                    *self = Chunked::DataEnd(0);
                }
                Ok(n)
            }
            Chunked::DataEnd(seen) => {
                let expected = b"\r\n"[*seen as usize];
                if input[0] != expected {
                    return Err(HttpError::bad_request("chunk data not followed by CRLF"));
                }
                *seen += 1;
                if *seen == 2 {
                    *self = Chunked::Size(Vec::new());
                }
                Ok(1)
            }
            Chunked::Trailers(line, total) => {
                let (used, complete) = take_line(line, input, MAX_LINE, "trailer line")?;
                *total += used;
                if *total > MAX_TRAILERS {
                    return Err(HttpError::new(431, "chunk trailers too large"));
                }
                if complete {
                    // Trailers are read and discarded (SPEC §3); an empty line ends the body.
                    if line.is_empty() {
                        *self = Chunked::Done;
                    } else {
                        line.clear();
                    }
                }
                Ok(used)
            }
            Chunked::Done => Ok(0),
        }
    }
}

/// Appends bytes of `input` to `line` up to and including CRLF. Returns the bytes used and
/// whether the line is complete (then `line` holds it without the CRLF).
fn take_line(line: &mut Vec<u8>, input: &[u8], max: usize, what: &str) -> Result<(usize, bool), HttpError> {
    let end = input.iter().position(|&b| b == b'\n');
    let used = end.map_or(input.len(), |i| i + 1);
    line.extend_from_slice(&input[..used]);
    if line.len() > max {
        return Err(HttpError::bad_request(format!("{what} longer than {max} bytes")));
    }
    if end.is_none() {
        return Ok((used, false));
    }
    if !line.ends_with(b"\r\n") {
        return Err(HttpError::bad_request(format!("{what} not ended by CRLF")));
    }
    line.truncate(line.len() - 2);
    Ok((used, true))
}

/// `1a;name=value` → 26. The size is hex; extensions must be `;token[=token|"quoted"]`.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(HttpError::bad_request("chunk size is not a hex number"));
    }
    if digits > 15 {
        return Err(HttpError::bad_request("chunk size overflows"));
    }
    let size = u64::from_str_radix(std::str::from_utf8(&line[..digits]).unwrap_or("x"), 16)
        .map_err(|_| HttpError::bad_request("chunk size is not a hex number"))?;
    if !valid_extensions(&line[digits..]) {
        return Err(HttpError::bad_request("malformed chunk extension"));
    }
    Ok(size)
}

/// RFC 9112 §7.1.1: `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
/// Whitespace may stand only before a `;` or around an `=`: `5 ` and `0\t` are no chunk sizes,
/// and a parser in front of us that read them otherwise would frame the body differently.
fn valid_extensions(mut rest: &[u8]) -> bool {
    let skip_ws = |s: &[u8]| -> usize { s.iter().take_while(|&&b| b == b' ' || b == b'\t').count() };
    let token_len = |s: &[u8]| -> usize { s.iter().take_while(|&&b| is_tchar(b)).count() };
    loop {
        let ws = skip_ws(rest);
        rest = &rest[ws..];
        if rest.is_empty() {
            return ws == 0;
        }
        if rest[0] != b';' {
            return false;
        }
        rest = &rest[1..];
        rest = &rest[skip_ws(rest)..];
        let name = token_len(rest);
        if name == 0 {
            return false;
        }
        rest = &rest[name..];
        let ws = skip_ws(rest);
        if rest.get(ws) != Some(&b'=') {
            continue;
        }
        rest = &rest[ws + 1..];
        rest = &rest[skip_ws(rest)..];
        if rest.first() == Some(&b'"') {
            match quoted_len(rest) {
                Some(n) => rest = &rest[n..],
                None => return false,
            }
        } else {
            let value = token_len(rest);
            if value == 0 {
                return false;
            }
            rest = &rest[value..];
        }
    }
}

/// Length of a quoted-string at the start of `s` (which starts with `"`), escapes included.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            b if b < 0x20 && b != b'\t' || b == 0x7f => return None,
            _ => i += 1,
        }
    }
    None
}

/// An HTTP token character (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize), HttpError> {
        let mut decoder = BodyDecoder::Chunked(Chunked::Size(Vec::new()));
        let mut body = RequestBody::new(1 << 20);
        let mut used_total = 0;
        for piece in pieces {
            let (used, done) = decoder.decode(piece, &mut body, 1 << 30)?;
            used_total += used;
            if done {
                let mut out = Vec::new();
                body.into_reader().unwrap().read_to_end(&mut out).unwrap();
                return Ok((out, used_total));
            }
        }
        Err(HttpError::bad_request("incomplete"))
    }

    #[test]
    fn chunked_in_one_piece_and_byte_by_byte() {
        let wire = b"4\r\nWiki\r\n5 ; a = b;c=\"d;e\"\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, used) = decode_all(&[wire]).unwrap();
        assert_eq!((body.as_slice(), used), (&b"Wikipedia"[..], wire.len() - 4));
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode_all(&bytes).unwrap().0, b"Wikipedia");
    }

    #[test]
    fn chunked_errors() {
        let cases: &[(&[u8], u16)] = &[
            (b"zz\r\n", 400),
            (b"fffffffffffffffff\r\n", 400),
            (b"4;=x\r\nWiki\r\n0\r\n\r\n", 400),
            (b"4;a=\"open\r\n", 400),
            (b"4\r\nWikiXX0\r\n\r\n", 400),
            (b"4\nWiki\r\n0\r\n\r\n", 400),
            // Whitespace or a sign around the size (RFC 9112 §7.1: `1*HEXDIG`).
            (b"5 \r\nhello\r\n0\r\n\r\n", 400),
            (b"5\r\nhello\r\n0\t\r\n\r\n", 400),
            (b" 5\r\nhello\r\n0\r\n\r\n", 400),
            (b"+5\r\nhello\r\n0\r\n\r\n", 400),
            (b"5;a=b \r\nhello\r\n0\r\n\r\n", 400),
        ];
        for (wire, status) in cases {
            let got = decode_all(&[wire]).unwrap_err();
            assert_eq!(got.status, *status, "{:?}: {got}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn body_limit_applies_to_decoded_bytes() {
        let mut decoder = BodyDecoder::Chunked(Chunked::Size(Vec::new()));
        let mut body = RequestBody::new(1024);
        let err = decoder.decode(b"a\r\n0123456789\r\n0\r\n\r\n", &mut body, 5).unwrap_err();
        assert_eq!(err.status, 413);
    }

    #[test]
    fn large_bodies_spill_to_a_file() {
        let mut body = RequestBody::new(10);
        let mut decoder = BodyDecoder::Length(25);
        decoder.decode(b"0123456789", &mut body, 100).unwrap();
        assert!(body.file.is_none(), "a small body stays in memory");
        let (used, done) = decoder.decode(b"0123456789abcdefXYZ", &mut body, 100).unwrap();
        assert_eq!((used, done, body.file.is_some()), (15, true, true));
        let mut out = String::new();
        body.into_reader().unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "01234567890123456789abcde");
    }
}
