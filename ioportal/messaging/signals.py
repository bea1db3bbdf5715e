"""Signals messaging sends to the apps built on it, so that it never imports them."""

from django.dispatch import Signal

# A dispatch of the organization may have work for the sending pipeline: sent after the
# transaction that launched, approved or resumed it has committed. Argument: organization_id
# (int). `ioportal.sending` connects its `triggers.wake_up`; a lost signal only delays work,
# since the pipeline's sweeper wakes every organization with due work each minute.
dispatch_ready = Signal()

# A dispatch made from a recipient list needs the files uploaded with the list (Premium):
# sent inside the transaction that makes it, before the list is emptied. Arguments: dispatch,
# recipient_list, test (bool: a test send gets copies, the list keeps its files for the
# launch; otherwise the files are handed over to the dispatch). Each receiver returns the
# number of attachments it created. `ioportal.remotecontent` connects its hand-over.
list_files_needed = Signal()

# A follow-up list of a dispatch has been made (`followups.follow_up_list_create`): sent
# inside its transaction, before its rows are stored. Arguments: origin (Dispatch),
# recipient_list, deliveries (the origin's deliveries of the follow-up's citizens), own_files
# ({delivery id: name of the citizen's own file in the origin's list}). Receivers give the
# list the origin's files (as files uploaded with it) and return {delivery id: file name} of
# the citizens' own files they staged, which fills the list's file-name column.
# `ioportal.remotecontent` connects its carry-over.
follow_up_list_created = Signal()
