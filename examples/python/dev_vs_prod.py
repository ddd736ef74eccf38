"""One variable switches between Flask's development server and waitress; its twin is
examples/dev_vs_prod.rs.

    PORT=50100 target/python/bin/python examples/python/dev_vs_prod.py                    # dev
    WSGI_LAB_MODE=prod PORT=50100 target/python/bin/python examples/python/dev_vs_prod.py  # prod

Then `curl http://127.0.0.1:50100/oops`: the dev server's debugger shows the traceback in the
page; waitress answers a plain 500 and logs it.
"""

import logging
import os

from flask import Flask
from waitress import serve

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello, World with waitress!!!"


@app.route("/oops")
def oops():
    return str(1 / 0)  # ZeroDivisionError: division by zero


mode = os.environ.get("WSGI_LAB_MODE", "dev")  # the tutorial writes mode = "dev"

if __name__ == "__main__":
    port = int(os.environ.get("PORT", 50100))
    if mode == "dev":
        app.run(host=os.environ.get("HOST", "0.0.0.0"), port=port, debug=True)
    else:
        logging.basicConfig(level=logging.INFO)  # else waitress keeps "Serving on ..." to itself
        serve(app, host=os.environ.get("HOST", "0.0.0.0"), port=port, threads=1)
