"""What else than dispatches an organization's retention (`Organization.retention_days`)
purges: the apps that keep personal data for that long answer the retention page through
this signal, so that the retention app needs to import none of them."""

from django.dispatch import Signal

# Asked before a shorter retention is saved. Arguments: organization, days, cutoff (aware
# datetime: what finished before it is due for the next purge). Each receiver returns a list
# of Italian sentences, one per kind of data the next purge would remove ("2 verifiche di
# raggiungibilità, con 40 codici fiscali"), empty when nothing is due. `ioportal.reachability`
# answers for its checks.
retention_due_requested = Signal()
