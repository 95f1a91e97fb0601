"""Tengri's logging, configured once: one level for the ``tengri`` loggers, to stderr, no secrets.

The level comes from the command line's ``--log-level``, else ``log_level`` of the configuration
(``TENGRI_LOG_LEVEL`` overrides the file). Lines go to stderr, so a command's output on stdout
stays clean. Every line passes a filter that replaces the configured secrets (the API token) by
``***``, whatever logged them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

__all__ = ["LEVELS", "configure_logging"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "tengri-stderr"


class _Redact(logging.Filter):
    """Replace each secret in a record's final message by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = message
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


def configure_logging(level: str, *, secrets: Iterable[str] = ()) -> logging.Handler:
    """Send the ``tengri`` loggers at ``level`` and above to stderr; replace an earlier setup.

    Calling it again (a second command in one process, a test) replaces the handler it added
    before rather than adding another, so each line is written once.
    """
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    logger = logging.getLogger("tengri")
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_Redact(secrets))
    logger.addHandler(handler)
    logger.setLevel(getattr(logging, name))
    return handler
