"""The mailer's pure planning core: business keys, grouping, expiry, retries, pacing.

Nothing here does I/O; the collect and delivery adapters call it with values.
"""
