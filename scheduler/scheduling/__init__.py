"""Placing tasks on the offers in hand: system tasks, node tasks, then queued jobs."""
