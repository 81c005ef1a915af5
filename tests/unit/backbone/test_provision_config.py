"""The configs provisioning sends carry the replica count."""

from __future__ import annotations

import pytest

from shared.bus.provision import bucket_config, stream_config
from shared.bus.topology import BUCKETS, STREAMS


@pytest.mark.parametrize("replicas", [1, 3])
def test_every_stream_config_carries_the_replica_count(replicas: int) -> None:
    for spec in STREAMS:
        assert stream_config(spec, replicas).num_replicas == replicas, spec.name


@pytest.mark.parametrize("replicas", [1, 3])
def test_every_bucket_config_carries_the_replica_count(replicas: int) -> None:
    for spec in BUCKETS:
        config = bucket_config(spec, replicas)
        assert config.replicas == replicas, spec.name
        assert config.bucket == spec.name
        assert config.ttl == (spec.ttl or None)


def test_the_default_is_one_replica() -> None:
    assert stream_config(STREAMS[0]).num_replicas == 1
    assert bucket_config(BUCKETS[0]).replicas == 1
