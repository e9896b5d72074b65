"""How the release executable is linked (build.rs): the start-up's functions placed together by
src/startup.ld, the unwinder linked in rather than loaded. Both keep an idle broker's resident
memory down (issue 13, goal 5; docs/performance.md); this checks that they are in effect in the
binary the rest of the suite runs, so that a change to build.rs or a stale src/startup.ld shows
here and not only as a larger figure in scripts/bench.sh."""
import re
import shutil
import subprocess

import pytest
from conftest import FJORD_BIN

# Functions every start runs, from main to the listeners; they must be in the start section.
START_FUNCTIONS = [
    "fjord::main",
    "fjord::run",
    "fjord::config::broker::Config::from_map",
    "fjord::topics::TopicRegistry::open",
    "tokio::runtime::builder::Builder::new",
    "clap_builder::parser::parser::Parser::get_matches_with",
]


def sections():
    out = subprocess.run(["readelf", "-SW", str(FJORD_BIN)], capture_output=True, text=True,
                         check=True).stdout
    found = {}
    for m in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out):
        found[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16))
    return found


def symbols():
    """Demangled name without its hash -> addresses of the text symbols of that name."""
    out = subprocess.run(["nm", "--defined-only", "-C", str(FJORD_BIN)], capture_output=True,
                         text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        addr, kind, name = line.split(" ", 2)
        if kind in "tT":
            found.setdefault(re.sub(r"::h[0-9a-f]{16}$", "", name), []).append(int(addr, 16))
    return found


@pytest.mark.skipif(not shutil.which("readelf"), reason="needs binutils' readelf")
def test_the_start_ups_functions_are_placed_together():
    secs = sections()
    assert ".text.fjord_start" in secs, f"no start section in {FJORD_BIN}: {sorted(secs)}"
    start, size = secs[".text.fjord_start"]
    text_start, text_size = secs[".text"]
    # The start section is small beside the rest of the code, and comes before it.
    assert start + size <= text_start
    assert size < text_size / 3, (size, text_size)
    syms = symbols()
    for name in START_FUNCTIONS:
        addrs = syms.get(name)
        assert addrs, f"{name} not in {FJORD_BIN}"
        assert any(start <= a < start + size for a in addrs), \
            f"{name} at {[hex(a) for a in addrs]}, outside the start section {hex(start)}+{hex(size)}"


@pytest.mark.skipif(not shutil.which("readelf"), reason="needs binutils' readelf")
def test_the_unwinder_is_linked_in_not_loaded():
    if subprocess.run(["cc", "-print-file-name=libgcc_eh.a"], capture_output=True,
                      text=True).stdout.strip() == "libgcc_eh.a":
        pytest.skip("this toolchain has no libgcc_eh.a: build.rs links libgcc_s as before")
    dynamic = subprocess.run(["readelf", "-dW", str(FJORD_BIN)], capture_output=True, text=True,
                             check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    assert "libc.so.6" in needed
    assert not [lib for lib in needed if lib.startswith("libgcc_s")], needed
