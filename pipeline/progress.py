"""Progress on long loops: a bar with an estimate of the time left on a terminal, nothing in logs.

Shown only when standard error is a terminal and ``CI`` is not set, so CI logs and files stay quiet.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar (rich) on an interactive terminal.

    Parameters
    ----------
    items
        What is iterated over.
    description
        What the loop does, e.g. "Huff: one Dijkstra per pole".
    total
        Number of items, when ``items`` has no length.

    Returns
    -------
    iterator
        The same items, in order.
    """
    if not sys.stderr.isatty() or os.environ.get("CI"):
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        yield from bar.track(items, total=total, description=description)
