"""The Python distribution (pyproject.toml, python/fjord/): `maturin build --release` makes a wheel
holding the very binary this suite tests (target/release/fjord, reused, not rebuilt), which
installs into a fresh virtualenv with `fjord` on its PATH, and whose pytest plugin runs
compat-tests/wheel_sample/ there: a user's test file with kafka-python, the plugin's fixtures,
two brokers in one session, overrides and a 3-node cluster."""
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

MATURIN = ROOT / ".venv" / "bin" / "maturin"
SAMPLE = Path(__file__).resolve().parent / "wheel_sample"
# What the sample needs besides the wheel: the versions the suite's own venv has
# (scripts/install-deps.sh), pytest's dependencies pinned with it.
SAMPLE_PKGS = ["kafka-python==2.2.15", "pytest==8.4.2", "pluggy==1.7.0", "iniconfig==2.3.1",
               "packaging==26.4", "pygments==2.21.0"]
SAMPLE_TESTS = {
    "test_produce_and_consume",
    "test_fresh_topic_names_and_partitions",
    "test_fresh_topic_configs",
    "test_consumer_group_commits_and_the_broker_skips_the_rebalance_delay",
    "test_a_second_broker_in_the_same_session",
    "test_overrides",
    "test_cluster_of_three",
    "test_orders_round_trip",
}
# A wheel build that reuses target/release takes seconds; one that compiles fjord again (other
# flags or profile than `cargo build --release`) takes minutes, and must fail here, clearly.
BUILD_TIMEOUT = 180


def version():
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]["version"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built once for this module."""
    if not MATURIN.exists():
        pytest.fail(f"{MATURIN} missing (run scripts/install-deps.sh)")
    out = tmp_path_factory.mktemp("wheel")
    t0 = time.monotonic()
    try:
        r = subprocess.run([str(MATURIN), "build", "--release", "--out", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"maturin build took over {BUILD_TIMEOUT} s: it compiles fjord again instead of "
                    "reusing target/release (was `cargo build --release` run first? do maturin's "
                    "profile and flags still match it?)")
    seconds = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    compiled = "Compiling fjord" in r.stderr
    print(f"maturin build --release: {seconds:.1f} s, fjord {'compiled' if compiled else 'reused'}")
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A new virtualenv with the wheel, kafka-python and pytest installed."""
    path = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    r = subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", str(wheel), *SAMPLE_PKGS],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return path


def venv_env(venv):
    """The environment of a shell in which the venv is activated: its bin/ first on PATH, and no
    FJORD_BIN (scripts/test.sh sets it for this suite), so the installed binary is the one found."""
    env = {k: v for k, v in os.environ.items() if k not in ("FJORD_BIN", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def test_the_wheel_holds_the_tested_binary_and_the_package(wheel):
    v = version()
    assert re.fullmatch(rf"fjord_broker-{re.escape(v)}-py3-none-(manylinux|musllinux|linux|macosx)_\w+\.whl",
                        wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dist = f"fjord_broker-{v}"
        assert {f"{dist}.data/scripts/fjord", "fjord/__init__.py", "fjord/__main__.py",
                "fjord/_binary.py", "fjord/_broker.py", "fjord/pytest_plugin.py",
                "fjord/py.typed"} <= names
        # maturin copies the executable cargo built for this suite, byte for byte.
        assert z.read(f"{dist}.data/scripts/fjord") == (ROOT / "target" / "release" / "fjord").read_bytes()
        entry_points = z.read(f"{dist}.dist-info/entry_points.txt").decode()
        assert re.search(r"^\[pytest11\]\nfjord\s*=\s*fjord\.pytest_plugin$", entry_points, re.M), entry_points
        metadata = z.read(f"{dist}.dist-info/METADATA").decode()
        assert f"\nName: fjord-broker\nVersion: {v}\n" in metadata
        assert "\nRequires-Dist:" not in metadata, "the package depends on the standard library only"


def test_fjord_is_on_the_venvs_path(venv):
    env = venv_env(venv)
    assert shutil.which("fjord", path=env["PATH"]) == str(venv / "bin" / "fjord")
    r = subprocess.run(["fjord", "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"fjord {version()}"), r.stdout
    r2 = subprocess.run(["python", "-m", "fjord", "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert (r2.returncode, r2.stdout) == (0, r.stdout), r2.stderr
    r3 = subprocess.run(["python", "-c", "import fjord; print(fjord.find_fjord_bin())"], env=env,
                        capture_output=True, text=True, timeout=30)
    assert r3.stdout == f"{venv / 'bin' / 'fjord'}\n", r3.stderr


def fjord_pids(exe):
    """Processes running the given fjord executable."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.readlink(d / "exe") == str(exe):
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def test_the_plugin_runs_a_users_tests_in_the_venv(venv, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    report = tmp_path / "report.xml"
    t0 = time.monotonic()
    r = subprocess.run(["python", "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rA",
                        f"--junitxml={report}", "--rootdir", str(project)],
                       cwd=project, env=venv_env(venv), capture_output=True, text=True, timeout=240)
    print(f"sample suite: {time.monotonic() - t0:.1f} s")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # The plugin came through the pytest11 entry point: pytest names its distribution.
    assert re.search(rf"^plugins: .*fjord-broker-{re.escape(version())}", r.stdout, re.M), out
    suite = ET.parse(report).getroot().find("testsuite")
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": len(SAMPLE_TESTS), "failures": 0, "errors": 0, "skipped": 0}, out
    assert {c.get("name") for c in suite.iter("testcase")} == SAMPLE_TESTS
    # Every broker the sample started (4, one of them a cluster of 3) was stopped by it.
    assert fjord_pids((venv / "bin" / "fjord").resolve()) == []
