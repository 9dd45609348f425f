"""What the community app announces; sent after the transaction that made the change commits."""

from django.dispatch import Signal

# A reviewer confirmed an observation. kwargs: observation (Observation, refreshed), review (Review).
observation_verified = Signal()

# A reviewer rejected an observation (no longer a record of its taxon). kwargs: observation (Observation).
observation_rejected = Signal()
