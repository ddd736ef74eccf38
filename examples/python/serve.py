"""Serve one of demo_apps' apps with a server that has no command line of its own.

waitress and gunicorn take an app's import path on their command line (`waitress-serve
demo_apps:sleep`); Werkzeug's development server (Flask's `app.run`) and wsgiref's
`simple_server` do not. This launcher gives them one, for `wsgi-lab compare --server
werkzeug,wsgiref`:

    python serve.py werkzeug sleep --port 8080   # threaded=True: a thread per connection
    python serve.py wsgiref cpu --port 8080      # one request at a time

Each listens on 127.0.0.1 only and runs as the tutorials run it, request log included (both
servers print a line per request on stderr). SIGTERM ends it (Python's default action).
"""

import argparse
import sys

import demo_apps

APPS = ["hello", "sleep", "cpu", "echo", "stream"]


def serve_werkzeug(app, port):
    from werkzeug.serving import run_simple

    # What Flask's `app.run(threaded=True)` calls: a new thread for every connection, with no
    # limit, and HTTP/1.1 keep-alive because it is threaded.
    run_simple("127.0.0.1", port, app, threaded=True)


def serve_wsgiref(app, port):
    from wsgiref.simple_server import make_server

    # The standard library's reference server: one thread, one request per connection
    # (HTTP/1.0), a listen queue of 5.
    with make_server("127.0.0.1", port, app) as server:
        server.serve_forever()


SERVERS = {"werkzeug": serve_werkzeug, "wsgiref": serve_wsgiref}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=sorted(SERVERS))
    parser.add_argument("app", choices=APPS, help="a callable of demo_apps.py")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    SERVERS[args.server](getattr(demo_apps, args.app), args.port)


if __name__ == "__main__":
    main(sys.argv[1:])
