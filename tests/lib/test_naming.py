import pytest

from connections.models import Transformer
from lib.naming import free_copy_name


@pytest.mark.django_db
def test_copies_get_the_first_free_name_within_the_length():
    Transformer.objects.create(name="Copy of Map", steps=[])
    Transformer.objects.create(name="Copy of Map (2)", steps=[])
    assert free_copy_name(Transformer.objects, "Map", max_length=120) == "Copy of Map (3)"
    long_name = free_copy_name(Transformer.objects, "x" * 300, max_length=120)
    assert len(long_name) <= 120
