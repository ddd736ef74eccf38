"""The tutorial's app mounted under /my-app; its twin is examples/url_prefix.rs.

    PORT=50100 target/python/bin/python examples/python/url_prefix.py
    curl http://127.0.0.1:50100/my-app/hi   # SCRIPT_NAME=/my-app, PATH_INFO=/hi
    curl http://127.0.0.1:50100/hi          # waitress calls the app anyway: 200 here, 404 in the twin
"""

import logging
import os

from flask import Flask
from waitress import serve

app = Flask(__name__)


@app.route("/hi")
def index():
    return "Hello, World with waitress!!!"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)  # else waitress keeps "Serving on ..." to itself
    serve(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", 50100)), threads=1, url_prefix="/my-app")
