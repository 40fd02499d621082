"""Every Nth predicted row, written as one JSON line for the drift monitor (`ml monitor`).

Each worker appends to its own file, <dir>/inputs-<pid>.jsonl, so lines from several processes
never interleave. When a file passes `max_bytes` it becomes inputs-<pid>.jsonl.1 (replacing the
previous one): disk use stays under 2 x max_bytes per worker.

Only served traffic is sampled: a request carrying the CHECK_HEADER checks the service (the
deploy's smoke test sends its held-out examples, 64 rows a deploy, with it). It is answered and
counted in the metrics as any other, but its rows would bias the drift statistics toward the
training data, so they are not recorded.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson

CHECK_HEADER = "X-Runwright-Check"
CHECK_HEADER_KEY = CHECK_HEADER.lower().encode()  # as ASGI servers pass header names


def is_check(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's raw ASGI headers mark it as a check of the service."""
    # A plain loop: any() over a generator costs twice as much for the few headers.
    for name, _ in headers:  # noqa: SIM110
        if name == CHECK_HEADER_KEY:
            return True
    return False


BUFFER_BYTES = 1 << 20
LINE_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


def line(now: float, version: str, x: np.ndarray, y: np.ndarray) -> bytes:
    """One sampled row and the model's outputs for it, as a JSON line."""
    return orjson.dumps({"t": now, "version": version, "x": x, "y": y}, option=LINE_OPTIONS)


class InputSampler:
    def __init__(self, directory: str | Path | None, every: int, max_bytes: int) -> None:
        self.directory = Path(directory) if directory else None
        self.every = every
        self.max_bytes = max_bytes
        self.enabled = self.directory is not None and every > 0
        # Rows whose running index is a multiple of `every` are recorded: a fixed share of the
        # traffic, whatever the batch sizes, with one integer of state: how many rows pass
        # before the next recorded one. Most requests only count it down.
        self.skip: float = 0 if self.enabled else math.inf  # never, when off
        self.file: BinaryIO | None = None
        self.written = 0

    def record(self, rows: np.ndarray, outputs: np.ndarray, version: str) -> None:
        count = len(rows)
        if self.skip >= count:
            self.skip -= count
            return
        first = int(self.skip)
        # The recorded rows: first, first + every, ... ; then the rows left before the next.
        self.skip = (first - count) % self.every
        now = round(time.time(), 3)
        flat = rows.reshape(count, -1)
        if first + self.every >= count:  # one row: every 1-row request that is sampled
            self.write(line(now, version, flat[first], outputs[first]))
            return
        picked = slice(first, None, self.every)
        self.write(
            b"".join(
                line(now, version, x, y)
                for x, y in zip(flat[picked], outputs[picked], strict=True)
            )
        )

    def write(self, lines: bytes) -> None:
        file = self.file
        if file is None or self.written >= self.max_bytes:
            file = self.rotate()
        # Buffered: the service's reload thread flushes every second (Service.tick), so the
        # monitor, which reads these files while the service runs, sees lines within about a
        # second, without a system call on the request path.
        file.write(lines)
        self.written += len(lines)

    def flush(self) -> None:
        # From the reload thread: a rotation on the request path may have just closed it.
        with contextlib.suppress(ValueError):
            if self.file is not None:
                self.file.flush()

    def rotate(self) -> BinaryIO:
        """Start a fresh file (keeping the last one as .1) and return it."""
        if self.directory is None:
            raise ValueError("input sampling is off: it has no directory to write to")
        path = self.directory / f"inputs-{os.getpid()}.jsonl"
        if self.file is not None:
            self.file.close()
            os.replace(path, path.with_name(path.name + ".1"))
        self.directory.mkdir(parents=True, exist_ok=True)
        # Kept open across requests. The buffer holds about a second of samples at thousands of
        # requests a second, so the request path rarely makes a system call for them.
        self.file = file = open(path, "ab", buffering=BUFFER_BYTES)  # noqa: SIM115
        self.written = path.stat().st_size
        return file

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
