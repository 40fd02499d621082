"""The service's processes: gunicorn's arbiter with uvicorn workers (uvicorn-worker).

The parent imports the web stack once and forks the workers, so N workers are ready about as
soon as one (uvicorn's own --workers starts a fresh interpreter per worker, each importing
everything again). onnxruntime is not imported in the parent (its import starts a thread, which
a fork would not carry over): each worker imports it and loads the model after the fork. The
arbiter restarts a worker that dies and, on SIGTERM, lets in-flight requests finish for
`serve.graceful_timeout_seconds` before it stops them.

On Linux each worker listens on a socket of its own, all bound to the one address with
SO_REUSEPORT (gunicorn's reuse_port), so the kernel spreads new connections over the workers.
On one socket shared by every worker, whichever worker woke first accepted a whole burst of
new connections (a client's pool of keep-alive connections, a load generator's) and the
others idled. Elsewhere (macOS, the BSDs) the last socket bound would take every connection,
so there the workers share the arbiter's socket as before.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

from gunicorn.app.base import BaseApplication

from ml.errors import UserError

if TYPE_CHECKING:
    from ml.config import ServeParams

log = logging.getLogger("ml.serve")

WORKER_BOOT_ERROR = 3  # gunicorn's exit status for a worker that cannot start: stops the arbiter
OWN_LISTENERS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class ServiceApplication(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Called in each worker after the fork."""
        from ml.serve.app import create_app
        from ml.serve.model import ModelLoadError

        try:
            return create_app()
        except ModelLoadError as exc:
            log.error("%s", exc)  # one line, no traceback: the file is the user's to fix
            sys.exit(WORKER_BOOT_ERROR)


def run(params: ServeParams) -> int:
    """Serve until stopped; the arbiter's exit status (0 after a graceful stop)."""
    if OWN_LISTENERS:
        check_free(params.host, params.port)
    import ml.serve.app  # noqa: F401 - imported once here, shared by every forked worker

    options = {
        "bind": f"{params.host}:{params.port}",
        "workers": params.workers,
        "worker_class": "uvicorn_worker.UvicornWorker",
        "reuse_port": OWN_LISTENERS,  # a listening socket per worker (see above)
        "graceful_timeout": round(params.graceful_timeout_seconds),  # whole seconds
        "keepalive": 5,  # seconds an idle keep-alive connection stays open
        "accesslog": None,  # one log line per request would cost more than the model
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": f"runwright-serve-{params.model_name}",
        # No control socket in the user's home: several services would share one path.
        "control_socket_disable": True,
    }
    from gunicorn.errors import HaltServer

    parent = os.getpid()
    try:
        ServiceApplication(options).run()
    except HaltServer as halt:  # raised again while halting when several workers fail to boot
        return int(halt.exit_status)
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
        if os.getpid() != parent:
            # A forked worker ends by raising SystemExit through the stack it inherited from
            # the parent: leave here, before the parent's cleanup code runs in the worker.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        return status
    return 0


def check_free(host: str, port: int) -> None:
    """Refuse an address something already listens on. The workers' SO_REUSEPORT sockets
    would otherwise join the listening sockets of another service of the same user, and the
    two would split the traffic without a word. A bind without that option fails on any
    listener, SO_REUSEPORT or not."""
    # The address as gunicorn binds it: IPv6 for an IPv6 literal, else IPv4 (a name resolved).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: SO_REUSEADDR lets a restart bind while old connections linger.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except socket.gaierror as exc:
            raise UserError(f"serve.host {host!r}: cannot resolve it: {exc.strerror}") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(
                    f"{host}:{port} is in use: another process listens there; stop it or "
                    "choose another serve.port (--port)"
                ) from None
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
