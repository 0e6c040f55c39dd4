"""What a model field accepts, read from the model, so that the forms and serializers that take
its value and the services that check it apply one limit."""

from django.db.models import Field, Model


def max_length(model: type[Model], field: str) -> int:
    """The `max_length` of `model.field` (an error if the field has none: nothing to copy)."""
    found = model._meta.get_field(field)
    limit = found.max_length if isinstance(found, Field) else None
    if limit is None:
        raise TypeError(f"{model.__name__}.{field} has no max_length")
    return limit
