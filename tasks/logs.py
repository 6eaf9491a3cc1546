"""Route the engine's log records (loggers ``bluegreen.*``) into the Prefect run's logs.

The engine logs with the standard library and knows nothing of Prefect. Prefect only ships
loggers it configured itself (or those named in PREFECT_LOGGING_EXTRA_LOGGERS before it was
imported, which a flow cannot rely on), so a run attaches Prefect's API handler to the
``bluegreen`` logger for its duration. The handler finds the flow or task run from the run
context of the thread that logs. Several runs in one process share one handler (reference
counted), so no record is shipped twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.logging.handlers import APILogHandler

ENGINE_LOGGER = "bluegreen"

_lock = threading.Lock()
_users = 0
_handler: APILogHandler | None = None
_saved_level = logging.NOTSET


@contextmanager
def engine_logs(level: int = logging.INFO) -> Iterator[None]:
    """Ship ``bluegreen.*`` records at ``level`` and above to the current run's logs."""
    global _users, _handler, _saved_level
    logger = logging.getLogger(ENGINE_LOGGER)
    with _lock:
        if _users == 0:
            _handler = APILogHandler()
            _handler.setLevel(level)
            logger.addHandler(_handler)
            _saved_level = logger.level
            if logger.level == logging.NOTSET or logger.level > level:
                logger.setLevel(level)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _handler is not None:
                logger.removeHandler(_handler)
                logger.setLevel(_saved_level)
                _handler = None
