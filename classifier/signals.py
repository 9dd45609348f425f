"""What the classifier app asks downstream apps; receivers connect in their AppConfig.ready()."""

from django.dispatch import Signal

# Asked by `train_classifier --from-observations`: where can training records come from besides
# files? The classifier sits upstream of observations and review, so it cannot read reviewed
# observations itself. No kwargs; each receiver returns {name: callable() -> [{id, path, label,
# location}]} (ml.training's records); community offers "reviewed observations".
training_sources_requested = Signal()
