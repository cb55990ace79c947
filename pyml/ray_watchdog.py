"""Stops a local Ray cluster whose driver died without shutting it down.

`pyml batch --ray_local` starts a Ray cluster of its own. A driver that exits
normally stops it (ray.shutdown); one killed with SIGKILL cannot, and Ray's agents
(the dashboard and runtime-env agents, children of the raylet) then outlive it by a
minute or more. This watchdog, started beside the driver in a session of its own,
waits for the driver's pid to go and then ends every process of that Ray session and
their children.

    python -m pyml.ray_watchdog DRIVER_PID SESSION_NAME
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

POLL_S = 0.5
LOOK_EVERY_S = 2.0  # how often the session's processes are listed again
GRACE_S = 3.0  # between SIGTERM and SIGKILL


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in (...) may hold spaces
        found[int(entry.name)] = (ppid, cmdline)
    return found


def session_processes(session: str) -> set[int]:
    """The processes whose command line names the session, and all their descendants."""
    table = _processes()
    chosen = {pid for pid, (_, cmdline) in table.items() if session in cmdline and pid != os.getpid()}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _) in table.items() if ppid in chosen} - chosen
        chosen |= children
        grew = bool(children)
    return chosen


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return state != "Z"  # a zombie has died; only its parent has not reaped it yet


def stop(pids: set[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)


def watch(driver_pid: int, session: str) -> None:
    # The session's processes are looked up while the driver lives: once the raylet is
    # gone its agents are re-parented and no longer name the session, so they are known
    # by pid from the last look.
    known: set[int] = set()
    last_look = 0.0
    while _alive(driver_pid):
        if time.monotonic() - last_look > LOOK_EVERY_S:
            known = {pid for pid in known if _alive(pid)} | session_processes(session)
            last_look = time.monotonic()
        time.sleep(POLL_S)
    # The driver is gone. After a normal ray.shutdown() nothing is left and this is a no-op.
    stop({pid for pid in known if _alive(pid)} | session_processes(session))


if __name__ == "__main__":
    watch(int(sys.argv[1]), sys.argv[2])
