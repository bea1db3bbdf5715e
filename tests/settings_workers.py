"""Settings of the worker processes integration tests start (tests/processes.py): short
leases, budgets, back-offs and breaker pauses, so a test sees crashes recovered and retries
repeated within seconds. They override the constants of ioportal/sending/conf.py."""

from tests.settings import *  # noqa: F403

SENDING_LEASE_SECONDS = 8
SENDING_TASK_BUDGET = 15
SENDING_BACKOFF_BASE = 0.3
SENDING_BACKOFF_CAP = 2.0
SENDING_BREAKER_THRESHOLD = 40
SENDING_BREAKER_COOLDOWN = 2.0
IO_API_READ_TIMEOUT = 2.0
