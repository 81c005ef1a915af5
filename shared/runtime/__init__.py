"""The runtime every service shares: logging, metrics, health endpoints, lifecycle."""
