"""Outbound dialer: targets, plans, pacing, concurrency, retries, AMD."""
