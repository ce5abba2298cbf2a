"""The progress bar long commands show on stderr (rich is imported when one is made)."""

from __future__ import annotations

__all__ = ["progress_bar"]

_DESCRIPTION_CHARS = 28


def progress_bar(console, unit: str):
    """A rich Progress with description, bar, done/total `unit`, elapsed time and ETA.

    Start it on the first update, so that an input error is printed alone.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn(f"{{task.description:<{_DESCRIPTION_CHARS}}}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
