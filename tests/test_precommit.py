"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the real pre-commit.

pre-commit installs the hook repository with pip into an environment of its own, which
needs PyPI (or a pip mirror) and takes a while. `pre-commit try-repo` builds that
environment anew on every call (it uses a throw-away store), so it runs once, on a
current tree; the edit-commit cycle then runs `pre-commit run` with the configuration a
user writes, whose environment is built once in PRE_COMMIT_HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from helpers import ENVIRONMENTS, ORDERS_DB

ROOT = Path(__file__).parent.parent
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
TIMEOUT = 600  # building the hook environment downloads extgen's dependencies
CATALOG = ORDERS_DB
STALE = "overlays is out of date with the catalog: run extgen render"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=_env(), check=True, capture_output=True, text=True
    ).stdout


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Git that ignores the user's configuration, and extgen in its text format."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("GITHUB_ACTIONS", "EXTGEN_FORMAT") and not key.startswith("GIT_")
    }
    names = {"GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t"}
    emails = {"GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return {**env, **names, **emails, "GIT_CONFIG_GLOBAL": os.devnull, **(extra or {})}


def pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PRE_COMMIT), *args, "--color", "never"],
        cwd=cwd,
        env=_env({"PRE_COMMIT_HOME": str(home)}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def hook_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This working tree as a repository of its own, and its commit.

    try-repo on the project itself would miss files not yet added to git (its shadow
    commit takes only tracked files), so the tree is copied as it is on disk.
    """
    copy = tmp_path_factory.mktemp("hook-repository")
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    git(copy, "init", "--quiet")
    git(copy, "add", "--all")
    git(copy, "commit", "--quiet", "--message", "extgen as it is on disk")
    return copy, git(copy, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the tests of this module, so that the hook environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def gitops(tmp_path: Path, hook_repository: tuple[Path, str], pre_commit_home: Path) -> Path:
    """A repository with a catalog, its rendered overlays and a pre-commit config, committed."""
    repo = tmp_path / "gitops"
    (repo / "catalog").mkdir(parents=True)
    (repo / "catalog" / "environments.yaml").write_text(ENVIRONMENTS)
    (repo / "catalog" / "dependencies.yaml").write_text(CATALOG)
    extgen = Path(sys.executable).parent / "extgen"
    subprocess.run([str(extgen), "render"], cwd=repo, env=_env(), check=True, capture_output=True)
    path, rev = hook_repository
    config = {"repos": [{"repo": str(path), "rev": rev, "hooks": _hooks()}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (repo / "README.md").write_text("GitOps\n")
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "catalog and overlays")
    return repo


def _hooks() -> list[dict[str, str]]:
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return [{"id": hook["id"]} for hook in manifest]


def test_manifest_declares_the_two_hooks() -> None:
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hooks = {hook["id"]: hook for hook in manifest}
    assert list(hooks) == ["extgen-render", "extgen-check"]
    assert hooks["extgen-render"]["entry"] == "extgen render"
    assert hooks["extgen-check"]["entry"] == "extgen render --check"
    for hook in hooks.values():
        assert (hook["language"], hook["pass_filenames"]) == ("python", False)


def test_try_repo_passes_both_hooks_on_a_current_tree(
    gitops: Path, hook_repository: tuple[Path, str], pre_commit_home: Path
) -> None:
    path, rev = hook_repository
    result = pre_commit(gitops, pre_commit_home, "try-repo", str(path), "--ref", rev, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _status(result.stdout) == {
        "extgen render": "Passed",
        "extgen render --check": "Passed",
    }


def test_a_catalog_change_fails_check_until_rendered_and_added(
    gitops: Path, pre_commit_home: Path
) -> None:
    catalog = gitops / "catalog" / "dependencies.yaml"
    catalog.write_text(CATALOG.replace("orders.prod", "orders2.prod"))
    git(gitops, "add", "catalog")

    check = pre_commit(gitops, pre_commit_home, "run", "extgen-check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "would update overlays/prod/orders-db.yaml" in check.stdout
    assert STALE in check.stdout

    render = pre_commit(gitops, pre_commit_home, "run", "extgen-render")
    assert render.returncode == 1, render.stdout + render.stderr
    assert "files were modified by this hook" in render.stdout
    rendered = (gitops / "overlays" / "prod" / "orders-db.yaml").read_text()
    assert "externalName: orders2.prod.example.com" in rendered
    assert git(gitops, "status", "--porcelain", "overlays") == " M overlays/prod/orders-db.yaml\n"

    git(gitops, "add", "overlays")
    again = pre_commit(gitops, pre_commit_home, "run", "extgen-check")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _status(again.stdout) == {"extgen render --check": "Passed"}
    assert pre_commit(gitops, pre_commit_home, "run", "extgen-render").returncode == 0


def test_a_hand_edit_of_an_overlay_fails_check(gitops: Path, pre_commit_home: Path) -> None:
    overlay = gitops / "overlays" / "dev" / "orders-db.yaml"
    overlay.write_text(overlay.read_text().replace("orders.dev", "evil.dev"))
    git(gitops, "add", "overlays")
    result = pre_commit(gitops, pre_commit_home, "run")
    assert result.returncode == 1
    # extgen-render runs only for catalog files; extgen-check for overlays too.
    assert _status(result.stdout) == {
        "extgen render": "Skipped",
        "extgen render --check": "Failed",
    }
    assert "would update overlays/dev/orders-db.yaml" in result.stdout


def test_hooks_skip_commits_that_touch_neither(gitops: Path, pre_commit_home: Path) -> None:
    (gitops / "README.md").write_text("GitOps, documented\n")
    git(gitops, "add", "README.md")
    result = pre_commit(gitops, pre_commit_home, "run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _status(result.stdout) == {
        "extgen render": "Skipped",
        "extgen render --check": "Skipped",
    }


def _status(output: str) -> dict[str, str]:
    """Each hook's name and result from pre-commit's `NAME.....Passed` lines."""
    found = {}
    for line in output.splitlines():
        for status in ("Passed", "Failed", "Skipped"):
            if line.endswith(status) and "..." in line:
                name = line[: -len(status)].rstrip(".")
                found[name.removesuffix("(no files to check)").rstrip(".")] = status
    return found
