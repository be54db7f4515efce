"""The one wrapper around external programs, and finding and running kustomize.

A standalone `kustomize` on PATH is preferred, else the one embedded in `kubectl`
(`kubectl kustomize`): users who pin a kustomize release get that release.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from extgen.errors import ExtgenError

VERSION_TIMEOUT = 30.0
INSTALL_HINT = (
    "install kubectl (https://kubernetes.io/docs/tasks/tools/)"
    " or kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/)"
)
_VERSION = re.compile(r"v\d+\.\d+\.\d+[^\s,}]*")
_KUBECTL_KUSTOMIZE_VERSION = re.compile(r"Kustomize Version:\s*(\S+)")


@dataclass(frozen=True)
class Kustomize:
    """How to run `kustomize build`, and what to call it in messages."""

    command: tuple[str, ...]  # followed by the directory to build
    description: str


def run(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs a program (no shell) and returns its captured output; raises on any failure."""
    command = shlex.join(args)
    try:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ExtgenError(
            f"`{command}` did not finish within {timeout:g} s{_stderr(error.stderr)}"
        ) from None
    except OSError as error:
        raise ExtgenError(f"cannot run `{command}`: {error.strerror or error}") from None
    if result.returncode != 0:
        raise ExtgenError(
            f"`{command}` failed with exit code {result.returncode}{_stderr(result.stderr)}"
        )
    return result


def _stderr(stderr: str | bytes | None) -> str:
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    stderr = (stderr or "").strip()
    return f":\n{stderr}" if stderr else " (nothing on stderr)"


def find_kustomize() -> Kustomize:
    """The standalone kustomize on PATH, else kubectl's; raises when there is neither."""
    standalone = shutil.which("kustomize")
    if standalone is not None:
        output = run([standalone, "version"], VERSION_TIMEOUT).stdout
        version = _first_version(output)
        return Kustomize((standalone, "build"), f"kustomize {version} (standalone, {standalone})")
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        output = run([kubectl, "version", "--client"], VERSION_TIMEOUT).stdout
        embedded = _KUBECTL_KUSTOMIZE_VERSION.search(output)
        version = f"Kustomize {embedded.group(1)}" if embedded else "Kustomize version unknown"
        return Kustomize((kubectl, "kustomize"), f"kubectl kustomize ({version}, {kubectl})")
    raise ExtgenError(f"neither kustomize nor kubectl is on PATH: {INSTALL_HINT}")


def _first_version(output: str) -> str:
    # `kustomize version` prints "v5.5.0" since v5, "{Version:kustomize/v4.5.7 ...}" before.
    found = _VERSION.search(output)
    return found.group(0) if found else "(version unknown)"


def build(kustomize: Kustomize, directory: Path, timeout: float = 300) -> str:
    """The YAML stream `kustomize build DIRECTORY` prints."""
    return run([*kustomize.command, str(directory)], timeout).stdout
