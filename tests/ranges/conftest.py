"""Fixtures of the ranges tests."""

import pytest
from django.core.cache import cache, caches


@pytest.fixture(autouse=True)
def _fresh_map_cache():
    # Map payloads are cached by range data version, and rows made by factories move no version:
    # without this, a test could read the map of another test's taxon that had the same id.
    cache.clear(), caches["maps"].clear()
    yield
    cache.clear(), caches["maps"].clear()
