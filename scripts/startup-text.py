#!/usr/bin/env python3
"""Writes src/startup.ld: the functions a starting broker runs, placed together in its executable.

Why (issue 13, goal 5: idle RSS within 10 MB; docs/performance.md): an idle broker runs well under
1 MiB of its 15 MiB of code, but that code is spread over the whole text, and the kernel maps the
64 KiB around each page an instruction first touches ("fault-around"), so 6 MiB of the executable
were resident. build.rs hands this linker script to the linker, which places the listed functions
first, next to each other, in an output section of their own (`.text.fjord_start`, inserted before
`.text`); everything else keeps its default place.

How: the release executable runs under valgrind's callgrind, the way it starts in real use (a
fresh data directory, the defaults, the HTTP listener on), and serves one client: a connection that
asks ApiVersions and Metadata (compat-tests/wire.py), and a GET /ready. Every function it ran that the executable defines
becomes one input-section pattern. A Rust function's pattern is its mangled name up to the
17-hex-digit hash (`_ZN5fjord6server...17h<hash>E` -> `.text._ZN5fjord6server...*`; the
standard library's v0 names with their crate hashes as wildcards): the hashes change with the
compiler version, the dependencies and the profile, the paths do not, so the script stays useful
across toolchains. A pattern that no longer matches anything costs nothing;
functions added to the start-up since the script was written are simply not grouped (rerun this
after larger changes to what the broker does at start, and compare bench.sh's idle RSS).

Needs valgrind (`apt-get install valgrind`), a release build (`cargo build --release` first) and
the project's .venv (scripts/test.sh makes it).
Usage: .venv/bin/python scripts/startup-text.py [--binary target/release/fjord] [--out src/startup.ld]
"""
import argparse
import fnmatch
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts" / "bench"), str(ROOT / "compat-tests")]
from bench import free_port  # noqa: E402
import wire  # noqa: E402  (the suite's raw protocol client; needs the project's .venv)

# A local symbol's numeric suffix: `.llvm.N`, or `.N` that LLVM adds to tell same-named locals
# apart. It changes from build to build.
LOCAL_SUFFIX = re.compile(r"(\.llvm)?\.\d+$")


def connect(port, deadline):
    while time.monotonic() < deadline:
        try:
            return wire.Conn(port, timeout=30, client_id="startup-text")
        except OSError:
            time.sleep(0.1)
    sys.exit(f"startup-text: nothing listened on {port} in time")


def exercise(kafka_port, http_port):
    """One client's first steps: ApiVersions, Metadata for all topics, GET /ready."""
    with connect(kafka_port, time.monotonic() + 60) as conn:
        conn.api_versions()
        conn.metadata(None)
    with socket.create_connection(("127.0.0.1", http_port), timeout=30) as http:
        http.sendall(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := http.recv(4096):
            reply += chunk
        if not reply.startswith(b"HTTP/1.1 200"):
            sys.exit(f"startup-text: /ready answered {reply[:40]!r}")


def functions_run(binary, work):
    """Mangled names of the functions callgrind saw the broker run."""
    kafka_port, http_port = free_port(), free_port()
    out = work / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
           str(binary), "--override", f"log.dirs={work / 'data'}",
           "--override", f"listeners=PLAINTEXT://127.0.0.1:{kafka_port}",
           "--override", f"fjord.http.listener=127.0.0.1:{http_port}"]
    with open(work / "broker.log", "wb") as log:
        broker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            exercise(kafka_port, http_port)
            time.sleep(2)  # the idle loop after the client has gone
            subprocess.run(["callgrind_control", "--dump", str(broker.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            deadline = time.monotonic() + 60
            while not list(work.glob("callgrind.out.*")) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            broker.terminate()
            broker.wait(timeout=60)
    dumps = sorted(work.glob("callgrind.out.*"))
    if not dumps:
        sys.exit("startup-text: callgrind wrote no dump")
    names = set()
    for line in dumps[0].read_text(errors="replace").splitlines():
        m = re.match(r"c?fn=\(\d+\) (.+)$", line)
        if m:
            names.add(m.group(1))
    return names


def defined_text_symbols(binary):
    out = subprocess.run(["nm", "--defined-only", str(binary)], capture_output=True, text=True,
                         check=True).stdout
    return {p[2] for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1] in "tTwW"}


def pattern(name):
    """The section pattern of one function, with what a new toolchain changes left to wildcards:
    a legacy Rust name without its hash; in a v0 name (the standard library's), each crate's
    disambiguator and each back-reference (an offset into the name, which moves when a
    disambiguator's length does); other names whole. A local symbol's numeric suffix becomes a
    wildcard."""
    name, local = LOCAL_SUFFIX.subn("", name)
    tail = "*" if local else ""
    if m := re.match(r"(_ZN.*)17h[0-9a-f]{16}E$", name):
        return f".text.{m.group(1)}*"
    if name.startswith("_R"):
        name = re.sub(r"B[0-9A-Za-z]*_", "B*_", re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name))
    return f".text.{name}{tail}"


def layout(ours, symbols):
    """The patterns in their order: first one per function run (its toolchain-independent pattern
    where that matches no other function of the executable, else its exact name), then the
    pattern of each family of generic instances that had members run. A function's hash-free
    pattern names every instance of a generic function (`Vec<T>::drop` for each `T`, most of
    which a start never runs), so with only those the section grew to 3.6 MB; exact names keep
    what runs in the first megabyte, and the families, placed after, still group the start's
    code under a toolchain whose hashes no longer match the exact names."""
    by_prefix = {}
    for name in symbols:
        by_prefix.setdefault(name[:16], []).append(name)

    def matches(glob):
        """How many of the executable's functions `glob` names (looked up by its first 16
        characters where it has that many before a wildcard: a scan of all is slow)."""
        literal = glob.split("*")[0]
        pool = by_prefix.get(literal[:16], []) if len(literal) >= 16 else symbols
        return sum(1 for n in pool if fnmatch.fnmatchcase(n, glob))

    exact, families = [], set()
    for name in ours:
        pat = pattern(name)
        if matches(pat[len(".text."):]) <= 1:
            exact.append(pat)
        else:
            exact.append(".text." + LOCAL_SUFFIX.sub("", name) + "*")
            families.add(pat)
    return sorted(set(exact)), sorted(families)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=ROOT / "target/release/fjord", type=Path)
    ap.add_argument("--out", default=ROOT / "src/startup.ld", type=Path)
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("startup-text: needs valgrind (apt-get install valgrind)")
    work = Path(tempfile.mkdtemp(prefix="fjord-startup-text-"))
    try:
        ran = functions_run(args.binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    symbols = defined_text_symbols(args.binary)
    ours = sorted(ran & symbols)
    exact, families = layout(ours, symbols)
    # A function LLVM took for cold (a `#[cold]` one, such as `RawVec::grow_one`, or one only
    # reached from such) is in a section named `.text.unlikely.<name>`.
    body = "\n".join(f"    *({p} .text.unlikely.{p[len('.text.'):]})" for p in exact + families)
    args.out.write_text(
        "/* The functions a starting broker runs, placed together: see scripts/startup-text.py,\n"
        "   which wrote this file, and build.rs, which hands it to the linker. */\n"
        "SECTIONS\n{\n  .text.fjord_start :\n  {\n" + body + "\n  }\n}\nINSERT BEFORE .text;\n")
    print(f"{args.out}: {len(exact)} patterns of functions, {len(families)} of families, for {len(ours)} functions "
          f"({len(ran)} functions ran, the rest in shared libraries or valgrind)")


if __name__ == "__main__":
    main()
