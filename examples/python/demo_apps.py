"""The built-in apps of `wsgi-lab serve --app NAME` as plain WSGI callables, with the same
query parameters, limits and 400 answers (their twins are in src/apps/mod.rs and
src/apps/echo.rs):

    cd examples/python
    ../../target/python/bin/waitress-serve --host 127.0.0.1 --port 8080 demo_apps:sleep
    curl 'http://127.0.0.1:8080/?ms=200'    # slept 200 ms
"""

import json
import re
import time
from urllib.parse import unquote_plus

TEXT = [("Content-Type", "text/plain; charset=utf-8")]


class Param:
    """A whole number from the query string: a default when absent, at most `maximum`, and
    anything else refused with a message for a 400 (as src/apps/mod.rs's Param)."""

    def __init__(self, name, default, maximum, unit):
        self.name, self.default, self.maximum, self.unit = name, default, maximum, unit

    def read(self, environ):
        """The value, or raises ValueError with the message the twin gives."""
        text = query_value(environ, self.name)
        if text is None:
            return self.default
        span = f"0..={self.maximum} {self.unit}"
        if not re.fullmatch(r"\+?[0-9]+", text):  # int() would also take " 5" and "1_000"
            raise ValueError(f"{self.name}={json.dumps(text, ensure_ascii=False)} is not a whole number: {span}")
        n = int(text)
        if n > self.maximum:
            shown = n if n < 2**64 else text  # as the twin's u64 shows it
            raise ValueError(f"{self.name}={shown} is out of range: {span}")
        return n


MS = Param("ms", 100, 60_000, "ms")
CHUNKS = Param("chunks", 3, 100_000, "chunks")
SIZE = Param("size", 16, 16 * 1024 * 1024, "bytes (16 MiB)")
STEPS = Param("n", 1_000_000, 500_000_000, "steps")
ECHO_BODY_SHOWN = 4 * 1024 * 1024


def query_value(environ, name):
    """The first value of `name` in the query string, decoded (`+` as a space), or None."""
    for pair in environ.get("QUERY_STRING", "").split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return unquote_plus(value)
    return None


def bad_request(start_response, error):
    start_response("400 Bad Request", TEXT)
    return [f"{error}\n".encode()]


def hello(environ, start_response):
    start_response("200 OK", TEXT)
    return [b"Hello, World!"]


def sleep(environ, start_response):
    try:
        ms = MS.read(environ)
    except ValueError as error:
        return bad_request(start_response, error)
    time.sleep(ms / 1000)
    start_response("200 OK", TEXT)
    return [f"slept {ms} ms".encode()]


def cpu(environ, start_response):
    """The twin's loop step for step, so the result is the same number; it holds the GIL."""
    try:
        steps = STEPS.read(environ)
    except ValueError as error:
        return bad_request(start_response, error)
    x = 1
    for _ in range(steps):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFF_FFFF_FFFF_FFFF
    start_response("200 OK", TEXT)
    return [f"computed {steps} steps: {x:016x}".encode()]


def stream(environ, start_response):
    try:
        chunks, size = CHUNKS.read(environ), SIZE.read(environ)
    except ValueError as error:
        return bad_request(start_response, error)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    # A generator and no Content-Length: made one chunk at a time, framed by the server.
    return (bytes([ord("a") + i % 26]) * size for i in range(chunks))


def body_chunks(environ):
    """The request body in pieces: CONTENT_LENGTH bytes, or up to its end where the server marks
    one (wsgi.input_terminated); wsgiref's input is the socket itself, where reading on would wait."""
    declared = environ.get("CONTENT_LENGTH")
    left = int(declared) if declared else (2**63 if environ.get("wsgi.input_terminated") else 0)
    while left > 0 and (chunk := environ["wsgi.input"].read(min(left, 64 * 1024))):
        left -= len(chunk)
        yield chunk


def echo(environ, start_response):
    """The environ's text entries and the body, as JSON; past 4 MiB the body is counted, not shown."""
    shown, length = bytearray(), 0
    for chunk in body_chunks(environ):
        shown += chunk[: ECHO_BODY_SHOWN - len(shown)]
        length += len(chunk)
    answer = {
        "environ": {key: value for key, value in environ.items() if isinstance(value, str)},
        "body": shown.decode("utf-8", "replace"),
        "body_length": length,
        "body_truncated": length > len(shown),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()]
