"""Progress of long work: a bar on a terminal, a log line at least every :data:`EVERY` seconds
otherwise, so no command that runs for minutes is silent while it works.

Every long loop of the package (video decoding and detection, rendering, training steps, data
preparation) iterates through :func:`track`, and every long single call (loading MediaPipe,
lifting a long clip) is named with :func:`stage`; the command line runs every command inside
:func:`heartbeat`, which fills any silence longer than :data:`EVERY` seconds with a line naming
the stage. Both take a *mode*:

* ``"bar"`` (or ``True``): a tqdm bar on stderr; a :func:`heartbeat` logs its lines anyway;
* ``"log"``: ``INFO`` lines of the ``skelgnn.progress`` logger (:data:`LOGGER`) once
  :data:`EVERY` seconds have passed since the start or the last line, and one at the end when
  any was written (a quick loop stays silent);
* ``"off"`` (or ``False`` / ``None``): nothing.

:func:`terminal_mode` picks ``"bar"`` when stderr is a terminal and ``"log"`` otherwise (logs,
pipes, CI). The command line shows the ``skelgnn.progress`` lines without ``-v``; a program using
the library sees them when it enables ``INFO`` for that logger.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from typing import Iterable, Iterator, Literal, Optional, TypeVar, Union

__all__ = ["EVERY", "EVERY_ENV", "LOGGER", "Mode", "ProgressMode", "resolve_mode", "terminal_mode", "track",
           "heartbeat", "stage"]

LOGGER = "skelgnn.progress"
"""The logger of the progress lines."""

EVERY_ENV = "SKELGNN_PROGRESS_EVERY"
"""Environment variable: seconds between two progress lines instead of 10 (a positive number)."""

log = logging.getLogger(LOGGER)


def _every_from_env(default: float = 10.0) -> float:
    text = os.environ.get(EVERY_ENV)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        log.warning("%s=%r is not a positive number of seconds; using %g", EVERY_ENV, text, default)
        return default
    return value


EVERY = _every_from_env()
"""Seconds between two progress lines when stderr is not a terminal (10, or
:data:`EVERY_ENV`)."""

Mode = Literal["bar", "log", "off"]
ProgressMode = Union[bool, None, Mode]
"""What a ``progress=`` argument accepts: a :data:`Mode`, ``True`` (``"bar"``) or ``False`` /
``None`` (``"off"``)."""

T = TypeVar("T")


def _clock() -> float:
    """The clock of the progress lines (a function of its own, so tests can speed it up)."""
    return time.monotonic()


def resolve_mode(progress: ProgressMode) -> Mode:
    """``progress`` as one of ``"bar"``, ``"log"``, ``"off"``.

    Raises:
        ValueError: any other value.
    """
    if progress is True:
        return "bar"
    if progress is False or progress is None:
        return "off"
    if progress in ("bar", "log", "off"):
        return progress
    raise ValueError(f"progress must be True, False, 'bar', 'log' or 'off', found {progress!r}")


def terminal_mode(enabled: bool = True) -> Mode:
    """``"bar"`` when stderr is a terminal, ``"log"`` otherwise; ``"off"`` unless ``enabled``."""
    if not enabled:
        return "off"
    isatty = getattr(sys.stderr, "isatty", None)
    return "bar" if isatty is not None and isatty() else "log"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _State:
    """When the last progress line was written, and what is being done."""

    last_line = 0.0
    stage = ""


_state = _State()


def _bar_showing() -> bool:
    """Whether a tqdm bar is open (any, ours or a library's): it shows the work goes on."""
    tqdm_module = sys.modules.get("tqdm")
    instances = getattr(getattr(tqdm_module, "tqdm", None), "_instances", None)
    return bool(instances)


def _emit(message: str, *args: object) -> None:
    log.info(message, *args)
    _state.last_line = _clock()


class _LogLines:
    """The ``"log"`` mode of :func:`track`: a line once :data:`EVERY` seconds have passed since
    the start or the last line, and a last one at the end when any was written (quick loops stay
    silent)."""

    def __init__(self, desc: str, total: Optional[int], unit: str) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.done = 0
        self.start = self.last = _clock()
        self.lines = 0

    def line(self, final: bool = False) -> None:
        now = _clock()
        elapsed = now - self.start
        if self.total:
            share = min(1.0, self.done / self.total)
            left = (f", about {_duration(elapsed / share - elapsed)} left"
                    if 0 < share < 1 and not final else "")
            count = f"{self.done}/{self.total} {self.unit}s ({100 * share:.0f}%)"
        else:
            count, left = f"{self.done} {self.unit}s", ""
        rate = f", {self.done / elapsed:.1f} {self.unit}s/s" if elapsed > 0 and self.done else ""
        _emit("%s: %s%s in %s%s%s", self.desc, "done, " if final else "", count,
              _duration(elapsed), rate, left)
        self.last = now
        self.lines += 1

    def step(self) -> None:
        self.done += 1
        if _clock() - self.last >= EVERY:
            self.line()


def track(items: Iterable[T], desc: str, total: Optional[int] = None, unit: str = "item",
          progress: ProgressMode = "log") -> Iterator[T]:
    """``items``, reporting how far the loop got (see the module docstring for the modes).

    Args:
        items: what the loop iterates over.
        desc: what is being done ("detect", "render", "epoch 3/40").
        total: the number of items when known (``len(items)`` when it has a length).
        unit: the name of one item ("frame", "step", "file").
        progress: the mode.
    """
    mode = resolve_mode(progress)
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if mode == "off":
        yield from items
        return
    with stage(desc):
        if mode == "bar":
            from tqdm import tqdm

            yield from tqdm(items, desc=desc, total=total, unit=unit, leave=False,
                            dynamic_ncols=True)
            return
        lines = _LogLines(desc, total, unit)
        for item in items:
            yield item
            lines.step()
        if lines.lines:
            lines.line(final=True)


@contextlib.contextmanager
def stage(what: str) -> Iterator[None]:
    """Name the work the block does, for the lines of an enclosing :func:`heartbeat`."""
    saved = _state.stage
    _state.stage = what
    try:
        yield
    finally:
        _state.stage = saved


@contextlib.contextmanager
def heartbeat(desc: str, progress: ProgressMode = "log") -> Iterator[None]:
    """Run the block; whenever no progress line was written for :data:`EVERY` seconds and no bar
    is showing, log ``desc: still working (<stage>), N s`` (from a daemon thread). For a whole
    command, and for single calls that cannot report their own progress (loading a detector,
    lifting a long clip in one batch). Nothing is written when the block ends sooner."""
    if resolve_mode(progress) == "off":
        yield
        return
    stop = threading.Event()
    start = _state.last_line = _clock()

    def beat() -> None:
        while not stop.wait(EVERY / 5):
            now = _clock()
            if now - _state.last_line >= EVERY and not _bar_showing():
                doing = f" ({_state.stage})" if _state.stage else ""
                _emit("%s: still working%s, %s", desc, doing, _duration(now - start))

    thread = threading.Thread(target=beat, name="skelgnn-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
