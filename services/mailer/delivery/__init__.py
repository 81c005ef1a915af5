"""Delivery adapters: ledger claims, SMTP pool, pacing, DKIM, outcomes."""
