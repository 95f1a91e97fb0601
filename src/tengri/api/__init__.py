"""The REST gateway: a Flask application factory with one blueprint per area."""
