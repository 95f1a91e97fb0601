"""The REST gateway: a Flask application factory with one blueprint per area.

``create_app(config, orchestrator)`` builds the app; ``make_server`` wraps it in waitress for
``tengri serve`` (see :func:`tengri.services.serve.serve`); ``resolve_token`` reads the bearer
token from the configuration (``api.token`` in the config file, or ``TENGRI_API_TOKEN``).
"""

from tengri.api._app import create_app
from tengri.api.server import WaitressServer, background_server, make_server
from tengri.services.serve import resolve_token

__all__ = ["WaitressServer", "background_server", "create_app", "make_server", "resolve_token"]
