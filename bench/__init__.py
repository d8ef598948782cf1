"""Benchmarks of scale-scheduler: status serving, snapshot building, memory, scheduling."""
