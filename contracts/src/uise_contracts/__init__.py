"""UISE event contracts: the single source of truth for what crosses Kafka.

Services import this package and nothing of each other. See `topics.py` for every topic with
its version, partitions, key, cleanup policy, producers and consumers; `events.py` for the
models; `envelope.py` for the CloudEvents binary-mode headers.
"""

from uise_contracts.envelope import Envelope, make_envelope
from uise_contracts.topics import TOPICS, Topic, topic_for

__all__ = ["Envelope", "TOPICS", "Topic", "make_envelope", "topic_for"]
