"""A form's or serializer's text limit is read from the model field it fills."""

import pytest

from incidents.models import Incident
from ybiyri.fields import max_length


def test_a_text_field_gives_its_limit():
    assert max_length(Incident, "title") == Incident._meta.get_field("title").max_length == 200


@pytest.mark.parametrize("name", ["summary", "team", "responders"])
def test_a_field_without_a_limit_a_relation_or_a_reverse_relation_is_refused(name):
    with pytest.raises(TypeError, match=f"Incident.{name} has no max_length"):
        max_length(Incident, name)
