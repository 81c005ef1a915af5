"""Developer tools: the local cluster (`make run`), the ILS simulator, the outbox viewer."""
