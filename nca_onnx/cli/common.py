"""What every command shares: verbosity, error mapping and argument parsing."""

from __future__ import annotations

import functools
import logging
import re
import sys
from typing import Callable

import typer

from nca_onnx.errors import NcaError, VerificationError

__all__ = ["configure_logging", "fail_cleanly", "parse_bytes", "parse_floats", "parse_size"]

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}


def configure_logging(verbose: int, quiet: bool) -> None:
    """The one place that sets verbosity: WARNING by default, -v INFO, -vv DEBUG."""
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][
        min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def fail_cleanly(command: Callable) -> Callable:
    """Print an NcaError as one line and exit 2 (1 for a failed check); no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except VerificationError as error:
            typer.secho(f"check failed: {error}", err=True, fg="red")
            raise typer.Exit(EXIT_CHECK_FAILED) from None
        except NcaError as error:
            typer.secho(f"error: {error}", err=True, fg="red")
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def parse_bytes(text: str) -> int:
    """'512MiB', '2GB' or a plain number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise typer.BadParameter(f"'{text}' is not a size; write e.g. 512MiB, 2GiB or 1GB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'224' or '48x192' (height x width)."""
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", text.strip())
    if not match:
        raise typer.BadParameter(f"'{text}' is not a size; write HEIGHTxWIDTH, e.g. 48x192")
    height = int(match.group(1))
    return height, int(match.group(2) or height)


def parse_floats(text: str | None, option: str) -> tuple[float, ...] | None:
    """'127' or '123.7,116.3,103.5'."""
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{option} takes numbers separated by commas, got '{text}'")
