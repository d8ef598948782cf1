"""Per-node resource accounting: offered, running, free, unavailable and total, per resource name."""
