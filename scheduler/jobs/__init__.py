"""Jobs: job types, queued jobs, job executions and what their outcomes mean."""
