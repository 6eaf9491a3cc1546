"""Golden SQL options: ``--update-golden`` rewrites tests/golden/<dialect>/*.sql.

Run ``uv run pytest tests/golden --update-golden`` (the option lives in this folder's
conftest, so pytest must be pointed at the folder for it to be known), or set
BLUEGREEN_UPDATE_GOLDEN=1 with any invocation. Review the diff before committing it.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/<dialect>/*.sql from the current builders instead of comparing",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be rewritten rather than compared."""
    flag = bool(request.config.getoption("--update-golden", default=False))
    return flag or os.environ.get("BLUEGREEN_UPDATE_GOLDEN", "") not in {"", "0"}
