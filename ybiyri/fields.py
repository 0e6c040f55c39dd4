"""What a model field accepts, read from the model, so that the forms and serializers that take
its value and the services that check it apply one limit."""

from django.db.models import Model


def max_length(model: type[Model], field: str) -> int:
    """The `max_length` of `model.field` (an error if the field has none: nothing to copy)."""
    limit = model._meta.get_field(field).max_length
    if limit is None:
        raise TypeError(f"{model.__name__}.{field} has no max_length")
    return limit
