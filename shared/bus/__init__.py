"""NATS JetStream: topology as code, connection, publishing and the one consume loop."""
