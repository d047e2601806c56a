"""The city agent and its parts."""

from agents.city.city import City

__all__ = ["City"]
