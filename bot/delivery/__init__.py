"""Bulk delivery: the durable outbox and the sender that drains it within the send limits."""
