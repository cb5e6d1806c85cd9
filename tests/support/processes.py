"""Services as separate processes for end-to-end tests (the CLI's launcher)."""

from cli.processes import ServiceProcess, free_port

__all__ = ["ServiceProcess", "free_port"]
