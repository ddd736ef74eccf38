"""The Flask + waitress tutorial's first program; its twin is examples/hello_waitress.rs.

    PORT=50100 target/python/bin/python examples/python/hello_waitress.py
"""

import logging
import os

from flask import Flask
from waitress import serve

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello, World with waitress!!!"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)  # else waitress keeps "Serving on ..." to itself
    serve(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", 50100)), threads=1)
