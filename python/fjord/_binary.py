"""Finding the `fjord` executable that was installed with this package.

A wheel puts the executable in the scripts directory of the installation scheme that received
the package (`<venv>/bin`, `~/.local/bin` for `pip install --user`, `<target>/bin` for
`pip install --target`), which need not be on PATH, so it is looked for there first.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Optional

EXE = "fjord.exe" if sys.platform == "win32" else "fjord"
ENV_VAR = "FJORD_BIN"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent  # the installed `fjord` package
    site = here.parent
    out: list[Path] = []
    # The scheme whose library directory holds this package names the matching scripts dir.
    for scheme in sysconfig.get_scheme_names():
        try:
            paths = sysconfig.get_paths(scheme)
        except KeyError:  # a scheme this platform cannot expand
            continue
        libs = {paths.get("purelib"), paths.get("platlib")}
        if any(lib and Path(lib).resolve() == site for lib in libs) and paths.get("scripts"):
            out.append(Path(paths["scripts"]))
    out.append(Path(sysconfig.get_path("scripts")))
    # `pip install --target DIR` puts packages in DIR and scripts in DIR/bin.
    out.append(site / "bin")
    try:
        out.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")))
    except KeyError:
        pass
    return [d / EXE for d in out]


@functools.lru_cache(maxsize=None)
def _installed() -> Optional[Path]:
    # Looked up once: the installation does not move while the interpreter runs, and the scheme
    # walk costs about a millisecond, a tenth of a broker's start.
    for path in _candidates():
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def find_fjord_bin() -> Path:
    """The path of the `fjord` executable to run.

    `FJORD_BIN` in the environment wins (a `cargo build` output, say). Otherwise the
    executable installed with this package, else the first `fjord` on PATH.

    Raises:
        FileNotFoundError: if `FJORD_BIN` names no file, or no executable is found.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"{ENV_VAR}={override} is not a file")
        return path
    found = _installed()
    if found is None:
        on_path = shutil.which(EXE)
        found = Path(on_path) if on_path else None
    if found is not None:
        return found
    raise FileNotFoundError(
        "cannot find the fjord executable: install the fjord-broker package "
        f"(pip install fjord-broker), put fjord on PATH, or set {ENV_VAR}"
    )
