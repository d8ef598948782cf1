"""Scheduler metrics: exact per-second counts over a sliding window, and monotonic totals."""
