"""What the observations app announces. Downstream apps (community, alerts) connect receivers in
their AppConfig.ready(); signals are sent after the transaction that made the change commits."""

from django.dispatch import Signal

# A photo was classified and its prediction and verdict stored.
# kwargs: observation (Observation), verdict_status (str), score (float | None: the identified
# taxon's calibrated score, None when the answer is uncertain or no animal).
observation_classified = Signal()

# Asked while deciding how public a record's location is: which taxa may the record be, beyond
# what its own rows name? kwargs: observation. Each receiver returns an iterable of scientific names
# (community: the current identifications); the strictest sensitivity among all of them decides,
# so a sensitive identification never leaks. Sent with send(), not send_robust(): a receiver that
# fails fails the read instead of leaking a location.
record_taxa_requested = Signal()
