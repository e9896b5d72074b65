"""`Broker`: fjord processes started for a test or a script, and stopped after it.

Each process gets free 127.0.0.1 ports (Kafka, HTTP and, in a cluster, controller) and a
directory under a temporary one; readiness is the broker's own `/ready` (200 once it serves
clients; in a cluster, once the active controller has accepted it). Only the standard library is
used, so installing the package brings in nothing else.
"""

from __future__ import annotations

import atexit
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ._binary import find_fjord_bin

ConfigValue = Union[str, int, float, bool]

# Settings a test wants that Kafka's defaults do not give: a consumer group's first member
# would otherwise wait 3 s (group.initial.rebalance.delay.ms) before its first assignment.
TEST_DEFAULTS: Mapping[str, str] = {"group.initial.rebalance.delay.ms": "0"}

# Keys a Broker sets itself, to free ports and its temporary directory: its bootstrap_servers,
# http_url, readiness and clean-up follow from them, so overrides may not change them.
MANAGED_KEYS = ("listeners", "log.dirs", "log.dir", "fjord.http.listener")
CLUSTER_KEYS = ("node.id", "process.roles", "controller.quorum.voters", "controller.listener.names")

# How many times a start is tried again on other ports when a port picked as free was taken
# before fjord could bind it (another process on the machine picking at the same moment).
_PORT_ATTEMPTS = 4
# An OS error that only a lost race for a port gives; fjord puts it in its bind errors.
_PORT_TAKEN = "Address already in use"


class BrokerError(RuntimeError):
    """fjord did not start (the message carries the end of its log), or it stopped."""


class ApiError(BrokerError):
    """An error answer of fjord's JSON API (`/api/v1/...`).

    Attributes:
        status: the HTTP status, e.g. 409.
        error: Kafka's error name, e.g. ``TOPIC_ALREADY_EXISTS``.
        message: the broker's explanation, if any.
    """

    def __init__(self, status: int, error: str, message: str):
        super().__init__(f"HTTP {status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


class _PortTaken(Exception):
    pass


_given_ports: set[int] = set()


def _free_port() -> int:
    """A port free on 127.0.0.1 now and not handed out before by this process (the kernel can
    offer a just-closed port again, and a cluster takes several at once)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port


def _config_value(v: ConfigValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Node:
    """One fjord process of a `Broker`."""

    def __init__(self, node_id: int, directory: Path):
        self.node_id = node_id
        self.port = _free_port()
        self.http_port = _free_port()
        self.controller_port: Optional[int] = None
        self.data_dir = directory / f"node{node_id}"
        self.log_path = directory / f"node{node_id}.log"
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def bootstrap(self) -> str:
        """This node's Kafka listener, ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """The base URL of this node's HTTP listener (console, ``/api/v1``, ``/metrics``)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines fjord wrote to its stdout and stderr."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _port_taken(self) -> bool:
        try:
            return _PORT_TAKEN in self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return False

    def __repr__(self) -> str:
        return f"<fjord node {self.node_id} {self.bootstrap} {self.http_url} pid={self.pid}>"


class Broker:
    """A fjord broker, or a cluster of fjord processes, for the length of a ``with`` block.

    >>> with Broker() as b:
    ...     producer = KafkaProducer(bootstrap_servers=b.bootstrap_servers)

    Entering starts the processes and waits until they serve clients; leaving stops them
    (SIGTERM, then SIGKILL after `stop_timeout`) and deletes their data. `start()` and
    `stop()` do the same without a ``with``.

    Args:
        overrides: configuration keys for every process, Kafka's names (``num.partitions``,
            ``log.retention.ms``, ``auto.create.topics.enable``, ...; `fjord --help` lists
            them); values may be str, int, float or bool. They win over `TEST_DEFAULTS` and
            the cluster's replication factors. `MANAGED_KEYS` (and in a cluster `CLUSTER_KEYS`)
            are the Broker's own and raise ValueError.
        cluster: how many processes. 1 is a single broker; more make a cluster in which every
            process is a broker and a voter of the metadata quorum (KRaft combined mode), with
            replication factors of min(cluster, 3) for new topics and internal topics.
        binary: the fjord executable; by default the one installed with this package
            (`FJORD_BIN` in the environment overrides it).
        start_timeout: seconds to wait for readiness before giving up.
        stop_timeout: seconds to wait after SIGTERM before SIGKILL.
    """

    def __init__(
        self,
        overrides: Optional[Mapping[str, ConfigValue]] = None,
        *,
        cluster: int = 1,
        binary: Union[str, "os.PathLike[str]", None] = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ):
        if cluster < 1:
            raise ValueError("cluster must be at least 1")
        self.overrides: dict[str, str] = {str(k): _config_value(v) for k, v in (overrides or {}).items()}
        managed = [k for k in self.overrides if k in MANAGED_KEYS or (cluster > 1 and k in CLUSTER_KEYS)]
        if managed:
            raise ValueError(f"fjord.Broker sets {', '.join(managed)} itself (free 127.0.0.1 ports, "
                             "a temporary directory, the cluster's quorum); run the fjord executable "
                             "directly to choose them")
        self.cluster_size = cluster
        self.binary: Optional[Path] = Path(binary) if binary is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.nodes: tuple[Node, ...] = ()
        self.directory: Optional[Path] = None
        self.startup_seconds: Optional[float] = None
        """Seconds from `start()` to every process ready, spawning included."""

    # --- what clients need ------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of every process's Kafka listener, comma-separated."""
        self._require_nodes()
        return ",".join(n.bootstrap for n in self.nodes)

    @property
    def http_url(self) -> str:
        """The base URL of the first process's HTTP listener, e.g. ``http://127.0.0.1:43125``:
        the web console at ``/``, the JSON API at ``/api/v1/``, ``/metrics``, ``/ready``."""
        self._require_nodes()
        return self.nodes[0].http_url

    @property
    def running(self) -> bool:
        """True while every process runs."""
        return bool(self.nodes) and all(n.alive() for n in self.nodes)

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> Broker:
        """Start the processes and return once all of them serve clients. A stopped Broker can
        be started again: on new ports, with an empty directory.

        Raises:
            BrokerError: a process exited, or readiness did not come within `start_timeout`.
            FileNotFoundError: no fjord executable was found.
        """
        if self.directory is not None:
            raise RuntimeError("this Broker is already started")
        t0 = time.monotonic()
        binary = self.binary or find_fjord_bin()
        deadline = t0 + self.start_timeout
        self.directory = Path(tempfile.mkdtemp(prefix="fjord-"))
        _running.add(self)
        try:
            for attempt in range(_PORT_ATTEMPTS):
                self._launch(binary, attempt)
                try:
                    self._wait_ready(deadline)
                    break
                except _PortTaken:
                    if attempt + 1 == _PORT_ATTEMPTS:
                        raise BrokerError(f"fjord found its ports taken {_PORT_ATTEMPTS} times:\n"
                                          + self._log_tails()) from None
                    self._halt(0.0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop every process (SIGTERM, SIGKILL after `stop_timeout`) and delete the data.
        Calling it again does nothing."""
        self._halt(self.stop_timeout)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        _running.discard(self)

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _launch(self, binary: Path, attempt: int) -> None:
        assert self.directory is not None
        base = self.directory / f"try{attempt}" if attempt else self.directory
        base.mkdir(exist_ok=True)
        nodes = tuple(Node(i, base) for i in range(1, self.cluster_size + 1))
        configs = self._configs(nodes)
        env = dict(os.environ, NO_COLOR="1")
        self.nodes = nodes
        for node, config in zip(nodes, configs):
            argv = [str(binary)]
            for k, v in config.items():
                argv += ["--override", f"{k}={v}"]
            with open(node.log_path, "wb") as log:
                node.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, env=env)

    def _configs(self, nodes: tuple[Node, ...]) -> list[dict[str, str]]:
        if len(nodes) == 1:
            n = nodes[0]
            return [{
                "listeners": f"PLAINTEXT://127.0.0.1:{n.port}",
                "log.dirs": str(n.data_dir),
                "fjord.http.listener": f"127.0.0.1:{n.http_port}",
                **TEST_DEFAULTS,
                **self.overrides,
            }]
        for n in nodes:
            n.controller_port = _free_port()
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
        # Kafka's form of a cluster id: 16 random bytes in URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        rf = str(min(len(nodes), 3))
        return [{
            "node.id": str(n.node_id),
            "process.roles": "broker,controller",
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "listeners": f"PLAINTEXT://127.0.0.1:{n.port},CONTROLLER://127.0.0.1:{n.controller_port}",
            "log.dirs": str(n.data_dir),
            "cluster.id": cluster_id,
            "fjord.http.listener": f"127.0.0.1:{n.http_port}",
            "default.replication.factor": rf,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            **TEST_DEFAULTS,
            **self.overrides,
        } for n in nodes]

    def _wait_ready(self, deadline: float) -> None:
        pending = list(self.nodes)
        started = time.monotonic()
        while True:
            for node in list(pending):
                if not node.alive():
                    if node._port_taken():
                        raise _PortTaken()
                    raise BrokerError(f"fjord node {node.node_id} exited with "
                                      f"{node.process.returncode if node.process else None} "
                                      f"while starting:\n{node.log_tail()}")
                # Checked before each probe: the port may be answered by the process that took it.
                if node._port_taken():
                    raise _PortTaken()
                if _probe(node.http_port, "/ready") == 200:
                    pending.remove(node)
            if not pending and (len(self.nodes) == 1 or self._cluster_formed()):
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"fjord was not ready within {self.start_timeout} s:\n"
                                  + self._log_tails())
            # A broker is ready in a few milliseconds: poll every millisecond (a refused connection
            # costs microseconds) for the first 50 ms, then back off to 20 ms.
            waited = time.monotonic() - started
            time.sleep(0.001 if waited < 0.05 else min(waited / 5, 0.02))

    def _cluster_formed(self) -> bool:
        """Every node lists every broker, none fenced, under one controller: a topic created
        now gets its full replication factor, and a client bootstrapped from any node sees all."""
        controllers = set()
        for node in self.nodes:
            try:
                info = self.api("GET", "/api/v1/cluster", node=node, timeout=2.0)
            except (OSError, BrokerError, http.client.HTTPException):
                return False
            brokers = info.get("brokers", [])
            if len(brokers) != len(self.nodes) or any(b.get("fenced") for b in brokers):
                return False
            controllers.add(info.get("controller_id"))
        return len(controllers) == 1 and controllers != {-1}

    def _halt(self, timeout: float) -> None:
        for node in self.nodes:
            if node.alive():
                assert node.process is not None
                node.process.terminate()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()

    def _log_tails(self) -> str:
        return "\n".join(f"--- node {n.node_id} ({n.log_path.name}) ---\n{n.log_tail()}" for n in self.nodes)

    def _require_nodes(self) -> None:
        if not self.nodes:
            raise RuntimeError("this Broker is not started: use `with Broker() as b:` or b.start()")

    # --- the JSON API -------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, *, node: Optional[Node] = None,
            timeout: float = 30.0) -> Any:
        """Call fjord's JSON API (docs/observability.md) and return the decoded answer.

        Args:
            method: ``GET``, ``POST``, ``PATCH`` or ``DELETE``.
            path: e.g. ``/api/v1/topics``.
            body: encoded as JSON when not None.
            node: which process to ask; the first by default.

        Raises:
            ApiError: the broker answered with an error.
        """
        self._require_nodes()
        target = node or self.nodes[0]
        conn = http.client.HTTPConnection("127.0.0.1", target.http_port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode(errors="replace")
        if resp.status >= 400:
            if isinstance(answer, dict):
                raise ApiError(resp.status, str(answer.get("error")), str(answer.get("message", "")))
            raise ApiError(resp.status, "HTTP_ERROR", str(answer))
        return answer

    def create_topic(
        self,
        name: Optional[str] = None,
        *,
        partitions: int = 1,
        replication_factor: Optional[int] = None,
        configs: Optional[Mapping[str, ConfigValue]] = None,
        timeout: float = 30.0,
    ) -> str:
        """Create a topic and wait until every partition has a leader on every process.

        Args:
            name: the topic's name; a new unique one (``topic-<12 hex digits>``) if None.
            partitions: how many partitions.
            replication_factor: the broker's default (min(cluster, 3)) if None.
            configs: topic configs, e.g. ``{"cleanup.policy": "compact"}``.

        Returns:
            The topic's name.

        Raises:
            ApiError: the broker refused it (``TOPIC_ALREADY_EXISTS``, ``INVALID_CONFIG``, ...).
        """
        name = name or f"topic-{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {"name": name, "partitions": partitions}
        if replication_factor is not None:
            body["replication_factor"] = replication_factor
        if configs:
            body["configs"] = {str(k): _config_value(v) for k, v in configs.items()}
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("POST", "/api/v1/topics", body, timeout=timeout)
                break
            except ApiError as e:
                # Retriable (NOT_CONTROLLER and the like while a cluster settles).
                if e.status != 503 or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        for node in self.nodes:
            _wait_until(lambda: self._topic_placed(node, name, partitions), deadline,
                        f"node {node.node_id} to know topic {name} with its {partitions} partitions led and its replicas open")
        return name

    def _topic_placed(self, node: Node, topic: str, partitions: int) -> bool:
        """`node` knows every partition of `topic` with a leader, and has opened its own
        replicas (the JSON API gives offsets only for those): a client's first produce or fetch
        finds them, wherever it bootstrapped."""
        try:
            parts = self.api("GET", f"/api/v1/topics/{topic}", node=node, timeout=2.0)["partitions"]
        except ApiError as e:
            if e.status in (404, 503):
                return False
            raise
        return len(parts) == partitions and all(
            p["leader"] >= 0 and (node.node_id not in p["replicas"] or p["end_offset"] is not None)
            for p in parts)

    def __repr__(self) -> str:
        state = self.bootstrap_servers if self.nodes else "not started"
        return f"<fjord.Broker {state}>"


def _probe(port: int, path: str) -> Optional[int]:
    """The HTTP status of GET path, or None if nothing answers yet."""
    # fjord answers in milliseconds; a port that holds the line is not fjord's (or fjord is
    # too busy to be ready), and is asked again.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _wait_until(cond: Any, deadline: float, what: str) -> None:
    interval = 0.002
    while not cond():
        if time.monotonic() > deadline:
            raise BrokerError(f"timed out waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


# Brokers started and not stopped: stopped when the interpreter exits, so a script that forgot
# stop() (or was interrupted) leaves no fjord running behind it.
_running: set[Broker] = set()


@atexit.register
def _stop_all() -> None:
    for broker in list(_running):
        broker.stop()
