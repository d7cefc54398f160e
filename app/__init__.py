"""Smart Support Agent: a local-first desktop workbench for customer-support agents."""

__version__ = "0.1.0"
