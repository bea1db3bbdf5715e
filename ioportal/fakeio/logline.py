"""The simulator's own lines (start banner, stop, access log) in the portal's log format
(`%(asctime)s %(levelname)s %(name)s %(message)s`, the time ISO 8601 with milliseconds and
the UTC offset): `make run` prints them among the portal's, and they read side by side."""

from datetime import datetime

NAME = "ioportal.fakeio"


def log_lines(message: str) -> str:
    """`message` with each of its lines prefixed by the time, INFO and the simulator's
    name, newline-terminated."""
    stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return "".join(f"{stamp} INFO {NAME} {line}\n" for line in message.splitlines() or [""])
