"""Validated settings of a stack: the stack config and the app's env schema, as pydantic models."""
