"""Outbound dialer: targets, plans, call windows, pacing, concurrency, retries, AMD, results."""
