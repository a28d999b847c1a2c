"""What `asterisk` and `kamailio` stop|status print for a private daemon: one JSON object, exit 3 when not running."""
from __future__ import annotations

import json
from pathlib import Path

NOT_RUNNING = 3  # `status` exit code of a daemon that is not running (as init scripts say it)


def print_stopped(stopped: bool, directory: Path) -> int:
    """`stop`'s report: `stopped` says whether a process was running to be stopped."""
    print(json.dumps({"running": False, "stopped": stopped, "directory": str(directory)}))
    return 0


def print_status(running: bool, directory: Path, details: dict[str, object]) -> int:
    """`status`'s report: the state of the last start and whatever else `details` holds; exit 0 or 3."""
    print(json.dumps({"running": running, "directory": str(directory), **details}, indent=2))
    return 0 if running else NOT_RUNNING
