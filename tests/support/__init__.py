"""Helpers for the process-level tests and benchmarks: servers, databases, fakes, load."""
