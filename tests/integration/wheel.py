"""chaosgate as a team installs it: the wheel built from this checkout, in a virtualenv of its
own, run from a directory that is not the checkout.

:func:`installed_wheel` builds the wheel (``pip wheel --no-deps``: only this project's files)
and installs it into a virtualenv under the build cache. The virtualenv is kept between
sessions under a name made of the wheel's declared dependencies (its ``Requires-Dist`` lines
and the Python version), so a session whose dependencies are unchanged only reinstalls the
wheel itself (``--no-deps --force-reinstall``, seconds); a change of dependencies makes a new
virtualenv with everything installed from the package index, as a team's ``pip install``
would (about two minutes). :func:`wheel_env` is the environment such a chaosgate runs in:
none of this process's ``CHAOSGATE_*`` settings and no ``PYTHONPATH``, so nothing of the
checkout can leak in.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InstalledWheel", "installed_wheel", "wheel_env"]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT_S = 900


@dataclass(frozen=True)
class InstalledWheel:
    wheel: Path  # the built wheel file
    venv: Path  # the virtualenv it is installed in
    chaosgate: Path  # its console script
    python: Path  # the virtualenv's interpreter


def _pip(python: Path | str, *args: str) -> None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr}")


def _requires(wheel: Path) -> list[str]:
    """The wheel's declared dependencies (its METADATA ``Requires-Dist`` lines), sorted."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    return sorted(line for line in text.splitlines() if line.startswith("Requires-Dist:"))


def installed_wheel(cache_dir: Path, work_dir: Path) -> InstalledWheel:
    """Build this checkout's wheel into ``work_dir`` and install it (see the module's
    docstring); the virtualenv is reused from ``cache_dir`` when its dependencies match."""
    wheels = work_dir / "wheels"
    _pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(REPO_ROOT))
    (wheel,) = wheels.glob("chaosgate-*.whl")
    key_text = "\n".join([sys.version, *_requires(wheel)])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    venv = cache_dir / f"wheel-venv-{key}"
    python, complete = venv / "bin" / "python", venv / ".installed"
    if complete.exists():
        _pip(python, "install", "--no-deps", "--force-reinstall", str(wheel))
    else:  # new, or left half-made by a session that was cut off
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        _pip(python, "install", str(wheel))
        complete.write_text(key_text + "\n")
    return InstalledWheel(wheel, venv, venv / "bin" / "chaosgate", python)


def wheel_env(base: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """``base`` without its ``CHAOSGATE_*`` settings and ``PYTHONPATH``, plus ``settings``."""
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith("CHAOSGATE_") and name != "PYTHONPATH"
    }
    env.update(settings)
    return env
