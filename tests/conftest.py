"""Settings of the machine running the tests must not change what extgen prints."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_output_format(monkeypatch: pytest.MonkeyPatch) -> None:
    # In GitHub Actions, extgen switches to workflow commands unless told otherwise;
    # tests that want another format set it themselves.
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("EXTGEN_FORMAT", raising=False)
