"""The pytest plugin of the fjord-broker package, registered through the `pytest11` entry
point: installing the package makes these fixtures available to every test.

- `fjord_broker` (session): one `fjord.Broker` for the whole run, with `TEST_DEFAULTS`.
- `fjord_bootstrap` (session): its ``bootstrap_servers`` string.
- `fresh_topic`: a function creating a topic with a new, unique name on it and returning the
  name: ``topic = fresh_topic()``, ``fresh_topic(partitions=3, configs={...})``.

A project that wants another session broker (a cluster, other settings) overrides the fixture
in its conftest.py::

    @pytest.fixture(scope="session")
    def fjord_broker():
        with fjord.Broker({"num.partitions": 3}, cluster=3) as b:
            yield b

The plugin talks to the broker over its HTTP JSON API, so it needs no Kafka client.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any, Callable, Iterator, Mapping, Optional

import pytest

from ._broker import Broker

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def fjord_broker() -> Iterator[Broker]:
    """A fjord broker started once for the test session and stopped at its end."""
    with Broker() as broker:
        yield broker


@pytest.fixture(scope="session")
def fjord_bootstrap(fjord_broker: Broker) -> str:
    """The session broker's bootstrap servers, e.g. ``127.0.0.1:40123``."""
    return fjord_broker.bootstrap_servers


def _topic_prefix(test_name: str) -> str:
    # Kafka topic names: letters, digits, '.', '_', '-', at most 249 characters.
    return re.sub(r"[^A-Za-z0-9._-]+", "_", test_name).strip("_")[:180] or "topic"


@pytest.fixture
def fresh_topic(request: pytest.FixtureRequest) -> Callable[..., str]:
    """``fresh_topic(partitions=1, *, configs=None, replication_factor=None, broker=None)``
    creates a topic named after the test plus a unique suffix, waits until its partitions have
    leaders, and returns the name. `broker` creates it on another `fjord.Broker` than the
    session's (`fjord_broker`, started only if a test asks for a topic on it)."""
    prefix = _topic_prefix(request.node.name)

    def create(partitions: int = 1, *, configs: Optional[Mapping[str, Any]] = None,
               replication_factor: Optional[int] = None, broker: Optional[Broker] = None) -> str:
        name = f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"
        target = broker if broker is not None else request.getfixturevalue("fjord_broker")
        return target.create_topic(
            name, partitions=partitions, configs=configs, replication_factor=replication_factor)

    return create
