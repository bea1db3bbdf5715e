"""What messaging tells the apps above it, which it does not import (the layers, README)."""

from django.dispatch import Signal

# An organization has a dispatch ready to run (or scheduled); keyword `organization_id`.
# Sent on commit by `services.wake_pipeline`; the sending pipeline listens (sending/apps.py)
# and starts its workers. Without a listener the dispatch waits for the periodic sweep.
work_ready = Signal()
