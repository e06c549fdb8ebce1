"""What every command line of the package shares: argument types that check ranges as they parse,
and one way to turn a user's mistake into a one-line message instead of a traceback."""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Callable

from agents.core.agent import InfrastructureError
from agents.run_folder import RunFolderBusy


def _number(kind: type, low: float | None, low_inclusive: bool, what: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if low is not None and (value < low or (value == low and not low_inclusive)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


#: argparse ``type=`` callables: ``--envs 0`` fails while parsing, naming the option and the value
positive_int = _number(int, 1, True, "an integer >= 1")
nonnegative_int = _number(int, 0, True, "an integer >= 0")
positive_float = _number(float, 0, False, "a number > 0")
nonnegative_float = _number(float, 0, True, "a number >= 0")


def comma_list(allowed: list[str], all_word: str | None = "all") -> Callable[[str], list[str]]:
    """``--datasets train,context``: a non-empty list of allowed names (``all`` for every one)."""

    def parse(text: str) -> list[str]:
        if all_word is not None and text.strip() == all_word:
            return list(allowed)
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if not names or unknown:
            shown = ", ".join(unknown) if unknown else repr(text)
            raise argparse.ArgumentTypeError(
                f"unknown name(s) {shown}; allowed: {(all_word + ', ') if all_word else ''}{', '.join(allowed)}")
        return names

    return parse


#: errors that are the user's (bad input, a busy or corrupt folder, an endpoint that is down), shown
#: as one line; anything else is a bug and keeps its traceback
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RunFolderBusy, InfrastructureError)
TRACEBACK_ENV = "GYM_LANGREARRANGE_TRACEBACK"


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None,
             prog: str | None = None) -> int:
    """Run a CLI ``main``: a user error prints ``prog: error: message`` and exits 2.

    Set ``GYM_LANGREARRANGE_TRACEBACK=1`` to see the traceback instead.
    """
    if os.environ.get(TRACEBACK_ENV):
        return main(argv) or 0
    try:
        return main(argv) or 0
    except USER_ERRORS as e:
        name = prog or os.path.basename(sys.argv[0])
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2


__all__ = ["positive_int", "nonnegative_int", "positive_float", "nonnegative_float", "comma_list", "run_main",
           "USER_ERRORS", "TRACEBACK_ENV"]
