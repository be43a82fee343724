"""How Make starts a pipeline command: ``python -I -S pipeline/warm_client.py <command> [options]``.

The same as ``python -m pipeline <command> [options]`` (same arguments, output, exit code), but the command
runs in a process forked from a warm one (:mod:`pipeline.warm`) that has imported the pipeline's libraries
once for the whole build: each command skips half a second to a second of imports (numpy, pandas,
GeoPandas, shapely, pyproj, rasterio, scipy, numba, matplotlib …), about 10 CPU-seconds over a ``make all``.

This file uses the standard library only (run with ``-S``, it starts in some 20 ms). It

  * connects to the warm process of this checkout, interpreter and environment (a UNIX socket in a private
    folder of the temporary directory, named by a hash of the three; the pipeline's own ``PIPELINE_*``
    variables are left out of it: the command gets them, the warm process never reads them);
  * if there is none, starts one in the background (it takes a second or two to import, then serves every
    later command) and runs this command the ordinary way, ``python -m pipeline`` (as it does when
    ``PIPELINE_WARM=0`` or the warm process cannot be reached);
  * else hands it the command: arguments, working folder, environment, umask and its own standard input,
    output and error (so a terminal stays a terminal: progress bars, colours); forwards SIGINT and SIGHUP to
    the command's process group (it and its workers, as a terminal would) and SIGTERM to the command; exits
    with the command's exit code (or dies of the command's signal).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import sys

#: Environment variables that do not change how a library imports (the key of the warm process leaves them
#: out): Make's and the shell's, which differ between the commands of one build, and the pipeline's own
#: (``PIPELINE_*``: only the pipeline reads them, and it is imported in each command, with its environment).
VOLATILE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE_TERMOUT", "MAKE_TERMERR", "MAKEOVERRIDES", "PWD", "OLDPWD",
            "SHLVL", "_")


def socket_path(env: dict[str, str] | None = None) -> str:
    """The warm process's socket for this checkout, interpreter and environment.

    Parameters
    ----------
    env
        The environment (default: this process's).

    Returns
    -------
    str
        ``<tmp>/border-pipeline-<uid>/<hash>.sock`` (short enough for a UNIX socket's 107 bytes).
    """
    env = dict(os.environ if env is None else env)
    here = os.path.dirname(os.path.abspath(__file__))
    key = json.dumps([here, sys.executable, sorted((k, v) for k, v in env.items()
                                                   if k not in VOLATILE and not k.startswith("PIPELINE_"))])
    name = os.path.join(f"border-pipeline-{os.getuid()}", hashlib.sha256(key.encode()).hexdigest()[:20] + ".sock")
    path = os.path.join(env.get("TMPDIR") or "/tmp", name)
    return path if len(path) < 100 else os.path.join("/tmp", name)   # a UNIX socket's path: 107 bytes at most


def _ordinary(argv: list[str]) -> None:
    """Run the command as ``python -m pipeline`` would (this process becomes it)."""
    os.execv(sys.executable, [sys.executable, "-m", "pipeline", *argv])


def _start_server(path: str) -> None:
    """Start the warm process in the background, in its own session (a terminal's Ctrl-C reaches the
    commands through their clients only); it gives up at once if another start won the race."""
    import subprocess

    server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "warm.py")
    try:   # (a temporary folder that cannot be written: every command runs the ordinary way)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        subprocess.Popen([sys.executable, "-I", server, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        pass


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            part = conn.recv(n - len(data))
        except InterruptedError:
            continue
        if not part:
            return None
        data += part
    return data


def main(argv: list[str]) -> None:
    """Run one pipeline command through the warm process, or the ordinary way."""
    if os.environ.get("PIPELINE_WARM", "1") == "0":
        _ordinary(argv)
    path = socket_path()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        st = os.stat(os.path.dirname(path))
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise PermissionError(path)   # another user's folder: never hand it a command
        conn.connect(path)
    except OSError:
        conn.close()
        _start_server(path)
        _ordinary(argv)
    umask = os.umask(0)
    os.umask(umask)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask}).encode()
    try:
        socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        head = _recv_exact(conn, 8)
    except OSError:
        head = None
    if head is None:   # the warm process went away before starting the command
        conn.close()
        _ordinary(argv)
    (pid,) = struct.unpack("!q", head)

    def forward(signum, _frame):
        # a terminal's Ctrl-C or hang-up reaches a whole process group: the command's (it and its workers); a
        # SIGTERM (from Make or kill) the command alone, as when it was the client's own process
        try:
            if signum == signal.SIGTERM:
                os.kill(pid, signum)
            else:
                os.killpg(pid, signum)
        except OSError:
            pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, forward)
    status = _recv_exact(conn, 8)
    if status is None:
        sys.stderr.write("error: the pipeline's warm process ended before the command did (run it again, or "
                         "with PIPELINE_WARM=0)\n")
        sys.exit(1)
    (code,) = struct.unpack("!q", status)
    if code < 0:   # killed by a signal: die of it too, as the command did
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
