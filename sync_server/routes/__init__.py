"""HTTP routes: thin wrappers over ``sync_server.services``."""
