"""A slow route and a fast route on waitress's threads; its twin is examples/threads.rs.

    PORT=50100 target/python/bin/python examples/python/threads.py
    curl http://127.0.0.1:50100/slow   # 3 seconds (or ?ms=N)
    curl http://127.0.0.1:50100/fast   # at once, while /slow works; not with THREADS=1
"""

import logging
import os
import time

from flask import Flask, request
from waitress import serve

app = Flask(__name__)


@app.route("/slow")
def slow():
    ms = request.args.get("ms", 3000, type=int)
    started = time.monotonic()
    time.sleep(ms / 1000)
    return f"slow: done after {time.monotonic() - started:.1f} s\n"


@app.route("/fast")
def fast():
    return "fast: done at once\n"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)  # else waitress keeps "Serving on ..." to itself
    threads = int(os.environ.get("THREADS", 4))
    serve(app, host="127.0.0.1", port=int(os.environ.get("PORT", 50100)), threads=threads)
