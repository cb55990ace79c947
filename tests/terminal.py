"""Running a command on a pseudo-terminal, for tests of what a person sees there."""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time


def run_on_terminal(*args: str, timeout: float = 300, env: dict | None = None) -> str:
    """Runs `python ARGS...` with stdout and stderr on one pseudo-terminal (100 columns),
    as a person sees it; returns everything the terminal received."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # 40 rows, 100 columns
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=env
    )
    os.close(follower)
    seen, deadline = b"", time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    return seen.decode("utf-8", "replace")
