"""How a validation message names the kind of a value it did not expect."""

from __future__ import annotations

from typing import Any


def kind_of(value: Any, *, mapping: str = "an object", show_boolean: bool = False) -> str:
    """``a string``, ``a number (3)``, ...; files say "a mapping", message bodies "an object"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})" if show_boolean else "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return mapping
    return type(value).__name__
