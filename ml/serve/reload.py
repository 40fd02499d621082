"""Hot reload: each worker watches the model file and swaps in a new version without dropping a
request.

A background thread polls the file's identity (inode, size, mtime). When it changes, the thread
loads and verifies the new file, then replaces one reference. Requests read that reference once,
so those in flight finish on the model they started with. A file that fails to load or verify is
logged and counted, the current model stays, and the same file is not retried until it changes
again (a deploy that copies a file in place is read again once the copy completes).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from ml.serve.model import LoadedModel, ModelLoadError, load

log = logging.getLogger("ml.serve")


def file_identity(path: str) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class ModelHolder:
    def __init__(
        self,
        path: str,
        threads: int,
        interval_seconds: float,
        on_reload: Callable[[str, LoadedModel, LoadedModel], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.threads = threads
        self.interval = interval_seconds
        self.on_reload = on_reload
        self.on_tick = on_tick  # called after each look at the file
        self.seen = file_identity(path)
        self.current: LoadedModel = load(path, threads)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.watch, name="model-reload", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def watch(self) -> None:
        while not self.stopping.wait(self.interval):
            self.check()
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:  # a full disk must not stop the reloads
                    log.exception("Periodic flush failed")

    def check(self) -> bool:
        """Load the file if it changed since the last look; True when a new model came in."""
        identity = file_identity(self.path)
        if identity is None or identity == self.seen:
            return False
        self.seen = identity
        previous = self.current
        try:
            candidate = load(self.path, self.threads)
        except ModelLoadError as exc:
            log.warning("Keeping model %s: the new file is unusable: %s", previous.version, exc)
            self.notify("failed", previous, previous)
            return False
        if candidate.sha256 == previous.sha256:
            return False  # touched or rewritten with the same bytes
        self.current = candidate  # one reference assignment: atomic for every reader
        log.info("Serving model %s (was %s)", candidate.version, previous.version)
        self.notify("loaded", previous, candidate)
        return True

    def notify(self, result: str, previous: LoadedModel, current: LoadedModel) -> None:
        if self.on_reload is not None:
            self.on_reload(result, previous, current)
