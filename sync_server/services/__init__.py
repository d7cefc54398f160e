"""Business logic, free of HTTP: each function takes an engine and plain values."""
