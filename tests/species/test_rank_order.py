"""One order of ranks: the model's choices follow ml.taxonomy.RANK_ORDER, which the roll-up uses."""

from ml.taxonomy import RANK_ORDER
from species.models import Rank


def test_rank_choices_follow_the_one_rank_order():
    assert tuple(Rank.values) == RANK_ORDER
