"""Errors raised by the rule engine."""
from __future__ import annotations


class PolicyError(Exception):
    """A policy pack is broken. The message names the file, the YAML path and the problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file = file
        self.path = path
        self.problem = problem
        super().__init__(f"{file}: {path or '<根>'}: {problem}")


class UnknownScheme(KeyError):
    """No pack with this scheme id (a KeyError so `except KeyError` callers keep working)."""

    def __init__(self, scheme_id: object, known: list[str]) -> None:
        self.scheme_id = scheme_id
        self.known = list(known)
        super().__init__(f"未知的参保项目：{scheme_id!r}（已知项目：{'、'.join(known) or '无'}）")

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0])
