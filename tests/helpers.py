"""Shared helpers for extgen's tests: small catalogs written to disk, and running the CLI."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from extgen.cli import cli
from extgen.output import scan
from extgen.plan import Plan
from extgen.render import Renderer
from extgen.sync import Changes, apply_changes, plan_changes

ENVIRONMENTS = """\
environments:
  dev: {namespace: apps-dev}
  prod:
    namespace: apps-prod
    labels: {environment: production}
"""

# One dependency with a hostname target in both environments.
ORDERS_DB = """\
dependencies:
  - name: orders-db
    ports: [{name: postgres, port: 5432}]
    targets:
      dev: orders.dev.example.com
      prod: orders.prod.example.com
"""

DEPENDENCIES = (
    ORDERS_DB
    + """\
  - name: legacy-erp
    ports: [{name: http, port: 80, targetPort: 8080}]
    targets:
      dev: 192.168.10.5
      prod: [10.20.0.11, "2001:db8::11"]
  - name: search
    ports: [{name: http, port: 9200}]
    targets:
      dev: {selector: {app: search}}
      prod: search.prod.example.com
"""
)


def write_catalog(root: Path, files: dict[str, str] | None = None) -> Path:
    """Writes a catalog directory (default: a small valid one) and returns its path."""
    catalog = root / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    files = files or {"environments.yaml": ENVIRONMENTS, "dependencies.yaml": DEPENDENCIES}
    for name, text in files.items():
        (catalog / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return catalog


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below `directory` (links as their target text), for before/after checks."""
    files = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_symlink():
            files[relative] = b"-> " + str(path.readlink()).encode()
        elif path.is_file():
            files[relative] = path.read_bytes()
    return files


def sync_into(out: Path, plan: Plan, renderer: Renderer | None = None) -> Changes:
    """Writes a plan into OUT through the one sync pipeline, as `extgen render` does."""
    changes = plan_changes(out, plan, renderer or Renderer(), scan(out))
    apply_changes(changes, write=True)
    return changes


def count_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The children forked from now on (their pids, as forked), until the patch is undone."""
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting_fork)
    return forks
