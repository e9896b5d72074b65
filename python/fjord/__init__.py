"""fjord, a Kafka broker in one small binary, from Python: start one (or a cluster) for a test.

    import fjord
    with fjord.Broker() as b:
        producer = KafkaProducer(bootstrap_servers=b.bootstrap_servers)

Installing the `fjord-broker` package also puts the `fjord` executable on PATH and registers a
pytest plugin (fixtures `fjord_broker`, `fjord_bootstrap`, `fresh_topic`). See
docs/distribution.md in the fjord repository.
"""

from ._binary import find_fjord_bin
from ._broker import TEST_DEFAULTS, ApiError, Broker, BrokerError, Node

__all__ = ["ApiError", "Broker", "BrokerError", "Node", "TEST_DEFAULTS", "find_fjord_bin"]
