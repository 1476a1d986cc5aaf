"""Exceptions raised by the seda package."""

from __future__ import annotations


class SipError(ValueError):
    """A SIP request (or a manifest handed to us) cannot be turned into a valid SIP.

    The message always names the offending field or file so that an operator can fix the
    source without reading a stack trace.
    """


class SchemaError(RuntimeError):
    """A configured schema set exists but cannot be compiled: a deployment problem, not a SIP one."""


class UnitError(SipError):
    """A unit of the tree cannot be written as it is: names the unit (its key or title path)."""

    def __init__(self, unit: str, field: str, problem: str) -> None:
        super().__init__(f"unit {unit!r}: {field}: {problem}")
        self.unit = unit
        self.field = field
        self.problem = problem
