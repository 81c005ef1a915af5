"""Fixtures for every tier: real servers are started by the fixtures in tests/support."""

pytest_plugins = [
    "tests.support.nats",
    "tests.support.smtp",
    "tests.support.dovecot",
]
