"""The built-in step types; importing this package registers them."""

from . import basic, external, flow, values

__all__ = ["basic", "external", "flow", "values"]
