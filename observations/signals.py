"""What the observations app announces. Downstream apps (community, alerts) connect receivers in
their AppConfig.ready(); signals are sent after the transaction that made the change commits."""

from django.dispatch import Signal

# A photo was classified and its prediction and verdict stored.
# kwargs: observation (Observation), verdict_status (str), score (float | None: the identified
# taxon's calibrated score, None when the answer is uncertain or no animal).
observation_classified = Signal()
