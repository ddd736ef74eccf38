"""The app factory that `waitress-serve --call` calls; its twin is examples/app_factory.rs.

    cd examples/python
    GREETING=Bonjour ../../target/python/bin/waitress-serve --host 127.0.0.1 --call app_factory:create_app

or `PORT=8080 target/python/bin/python examples/python/app_factory.py`.
"""

import os

from flask import Flask


def create_app(greeting=None):
    """A new app each call, configured by its argument or else by $GREETING."""
    app = Flask(__name__)
    app.config["GREETING"] = greeting or os.environ.get("GREETING", "Hello")

    @app.route("/")
    def index():
        return f"{app.config['GREETING']} from the factory"

    @app.route("/config")
    def config():
        return f'greeting = "{app.config["GREETING"]}"'

    return app


if __name__ == "__main__":
    import logging

    from waitress import serve

    logging.basicConfig(level=logging.INFO)  # else waitress keeps "Serving on ..." to itself
    serve(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", 8080)))
