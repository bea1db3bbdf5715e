"""Signals messaging sends to the apps built on it, so that it never imports them."""

from django.dispatch import Signal

# A dispatch of the organization may have work for the sending pipeline: sent after the
# transaction that launched, approved or resumed it has committed. Argument: organization_id
# (int). `ioportal.sending` connects its `triggers.wake_up`; a lost signal only delays work,
# since the pipeline's sweeper wakes every organization with due work each minute.
dispatch_ready = Signal()
