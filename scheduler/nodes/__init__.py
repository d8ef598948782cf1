"""Nodes: one per agent hostname, with Scale's states, errors and warnings."""
