"""Progress on long loops: a bar with an estimate of the time left on a terminal, nothing in logs.

Shown only when standard error is a terminal, ``CI`` is not set and no other stage of a parallel make may
share the terminal, so CI logs and files stay quiet.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

log = logging.getLogger("pipeline")

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
    if not _interactive():
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        yield from bar.track(items, total=total, description=description)


def _interactive() -> bool:
    """Bars on a terminal, not in CI; in a parallel make only where the Makefile says the recipe runs alone
    (``PIPELINE_PROGRESS=1``: the downloads). ``PIPELINE_PROGRESS=0`` turns them off."""
    wanted = os.environ.get("PIPELINE_PROGRESS")
    if wanted == "0" or not sys.stderr.isatty() or os.environ.get("CI"):
        return False
    return wanted == "1" or not in_parallel_make()


def in_parallel_make() -> bool:
    """Whether this process is a recipe of a make running several jobs at once (``make -j``, the Makefile's
    default): another stage may then write to the same terminal, so progress bars (which redraw their
    lines) are off and log lines name their stage.

    Returns
    -------
    bool
        True when ``MAKEFLAGS`` carries a job server (GNU make sets it for parallel runs only).
    """
    return "--jobserver" in os.environ.get("MAKEFLAGS", "")


@contextmanager
def byte_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar of bytes (size, speed, time left) on an interactive terminal, e.g. for a download.

    Parameters
    ----------
    description
        What is transferred, e.g. the URL's file name.
    total
        Expected bytes (Content-Length), or None when unknown (the bar then counts without an end).

    Returns
    -------
    context manager
        Yields ``advance(n_bytes)``; a no-op when the output is not a terminal or ``CI`` is set.
    """
    if not _interactive():
        yield lambda n: None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Progress(TextColumn("  {task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(description, total=total or None)
        yield lambda n: bar.advance(task, n)


def name_log_lines(command: str) -> None:
    """In a parallel make, prefix every log line with the stage's command (``influence: wrote …``): the
    lines of two stages interleave on the terminal.

    Parameters
    ----------
    command
        The stage's command, e.g. ``influence``.
    """
    import logging

    if not in_parallel_make():
        return

    def prefix(record: logging.LogRecord) -> bool:
        if not getattr(record, "_stage_named", False):
            record.msg, record._stage_named = f"{command}: {record.msg}", True
        return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(prefix)


@contextmanager
def announced(command: str, number: str) -> Iterator[None]:
    """Log a stage's start (``4 influence …``) and end (``influence done in 20.1 s``), its log lines named in
    a parallel make (:func:`name_log_lines`).

    Parameters
    ----------
    command, number
        The stage's command and number (:data:`pipeline.paths.STAGES`).

    Yields
    ------
    None
        While the stage runs.
    """
    t0 = time.perf_counter()
    name_log_lines(command)
    log.info("[bold]%s %s[/bold] …", number, command, extra={"markup": True})
    yield
    log.info("%s done in %.1f s", command, time.perf_counter() - t0)


STAGE_LOG_ENV = "PIPELINE_STAGE_LOG"


def log_stage_run(argv: list[str] | None, names: set[str], seconds: float, code: int) -> None:
    """Append {stage, seconds, cpu_seconds, peak_rss_mb, exit, ended} as a JSON line to $PIPELINE_STAGE_LOG
    (benchmarks); cpu_seconds counts every thread and worker process, peak_rss_mb is the largest process of
    the run (itself or one of its workers), ended is the Unix time it ended (ended − seconds: when it
    started, for a timeline of a parallel run).

    Parameters
    ----------
    argv
        The command line (``sys.argv[1:]`` when None).
    names
        The commands of the command line; the first one in ``argv`` names the run.
    seconds, code
        The run's wall time and exit code.
    """
    import json
    import resource
    import time

    path = os.environ.get(STAGE_LOG_ENV)
    if not path:
        return
    args = sys.argv[1:] if argv is None else argv
    name = next((a for a in args if a in names), " ".join(args))
    # KiB on Linux; a stage's worker processes (the maps) count too: the largest of them.
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    rss_mb = max(u.ru_maxrss for u in usage) / 1024
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)   # all threads and workers: > seconds when parallel
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"stage": name, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                            "peak_rss_mb": round(rss_mb, 1), "exit": code,
                            "ended": round(time.time(), 3)}) + "\n")
