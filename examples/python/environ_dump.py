"""The environ a real server builds, dumped as text: lesson 2 sends wsgiref and waitress the
request it sends wsgi-lab's demo_app, and compares the three environs key by key.

    PORT=8000 target/python/bin/python examples/python/environ_dump.py wsgiref
    PORT=8000 target/python/bin/python examples/python/environ_dump.py waitress
    curl -H 'X_Auth_User: admin' 'http://127.0.0.1:8000/caf%C3%A9?x=1'

The page has demo_app's shape, one `KEY = 'value'` line per key, sorted, so the lesson reads
all three with one parser. Objects (wsgi.input, wsgi.errors...) are shown by their type only:
their repr holds a memory address, which differs on every run.
"""

import logging
import os
import sys


def environ_dump(environ, start_response):
    lines = []
    for key in sorted(environ):
        value = environ[key]
        if isinstance(value, (str, bool, int, tuple)):
            shown = repr(value) if isinstance(value, str) else repr(str(value))
        else:
            shown = repr(f"<{type(value).__name__}>")
        lines.append(f"{key} = {shown}")
    body = "\n".join(lines).encode("utf-8", "backslashreplace")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def main(server):
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", 8000))
    if server == "wsgiref":
        from wsgiref.simple_server import make_server

        with make_server(host, port, environ_dump) as httpd:
            # The same words as the tutorial's hello_wsgi.py, with the port really bound.
            print(f"serving on port {httpd.server_port}...")
            httpd.serve_forever()
    elif server == "waitress":
        from waitress import serve

        logging.basicConfig(level=logging.INFO)  # else waitress keeps "Serving on ..." to itself
        serve(environ_dump, host=host, port=port)
    else:
        sys.exit(f"usage: environ_dump.py wsgiref|waitress (not {server!r})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "wsgiref")
