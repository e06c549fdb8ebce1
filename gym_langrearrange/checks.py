"""Argument checks shared by the environments: one clear error naming the field, the value and what is allowed."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np


def integer(value: Any) -> int | None:
    """``value`` as an int if it is an integer of any integral type (int, np.int64, ...), else None.

    Bools are refused although Python counts them as ints: ``max_steps=True`` is a mistake, not 1.
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def positive_int(field: str, value: Any, meaning: str) -> int:
    number = integer(value)
    if number is None or number <= 0:
        raise ValueError(f"{field} must be a positive int ({meaning}), got {value!r} of type {type(value).__name__}")
    return number


def flag(field: str, value: Any) -> bool:
    """A real bool (or np.bool_): ``render="no"`` would otherwise count as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{field} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def choice(field: str, value: Any, allowed: tuple) -> Any:
    """``value`` if it is one of ``allowed`` (None may be one of them)."""
    if not any(value is a or (isinstance(value, str) and value == a) for a in allowed):
        raise ValueError(f"{field} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def action_id(action: Any, n: int, what: str = "action id") -> int:
    """An int action of ``Discrete(n)`` from an int, a numpy integer or a 0-d/1-element integer array."""
    if isinstance(action, np.ndarray) and action.shape in ((), (1,)):
        action = action.reshape(()).item() if action.dtype.kind in "iu" else action
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise TypeError(f"action must be an int {what} in 0..{n - 1}, got {action!r} of type {type(action).__name__}")
    if not 0 <= action < n:
        raise ValueError(f"action {action} is outside the action space: {what}s are 0..{n - 1}")
    return int(action)
