"""The server's job queue: integration requests stored as events run here as jobs, behind a
circuit breaker per (system, site), with retries, leases and server-authored outcomes."""
