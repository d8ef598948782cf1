"""Tasks this scheduler launched and has not yet seen end: job, node and system tasks."""
