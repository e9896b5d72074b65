"""`python -m fjord ARGS`: run the fjord executable installed with this package."""

import os
import sys

from ._binary import find_fjord_bin


def main() -> None:
    exe = os.fspath(find_fjord_bin())
    os.execv(exe, [exe, *sys.argv[1:]])


if __name__ == "__main__":
    main()
