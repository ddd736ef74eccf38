"""The wsgiref tutorial's program; its twin is examples/hello_wsgi.rs.

    PORT=5000 target/python/bin/python examples/python/hello_wsgi.py
"""

import os
from wsgiref.simple_server import make_server


def web_app(environment, response):
    status = "200 OK"
    headers = [("content-type", "text/html; charset=utf-8")]
    response(status, headers)
    return [b"<h2>Hi there, this is WSGI server</h2>"]


with make_server(os.environ.get("HOST", ""), int(os.environ.get("PORT", 5000)), web_app) as server:
    port = server.server_port  # the one the OS picked, with PORT=0
    print(f"serving on port {port}...\nvisit http://127.0.0.1:{port}\nTo exit press ctrl + c")
    server.serve_forever()
