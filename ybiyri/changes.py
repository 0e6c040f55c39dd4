"""Partial updates: a service is given only the fields someone changed, as a validated mapping.

Every `*_update` service takes `changes`, a `TypedDict` with `total=False` naming the fields it
accepts, and applies it with `apply_changes`: only the fields given are set, a field nobody sent
keeps its stored value (so a concurrent change to another field stays), and the result says which
fields really changed, for the audit log and for deciding what else must happen (a tracker sync).
"""

from collections.abc import Collection, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

# {field: (before, after)} for each field whose value changed.
Changed = dict[str, tuple[Any, Any]]


def apply_changes(instance: models.Model, changes: Mapping[str, Any], *, fields: Collection[str]) -> Changed:
    """Set each given field of `instance` (not saved) and return those whose value changed.

    A name outside `fields` raises TypeError before anything is set: forms and serializers offer
    only the fields a service accepts, so an unknown one is a programming error, not bad input.
    """
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"Not changeable {instance._meta.model_name} fields: {sorted(unknown)}")
    changed: Changed = {}
    for name, value in changes.items():
        before = getattr(instance, name)
        if before != value:
            changed[name] = (before, value)
        setattr(instance, name, value)
    return changed


def audit_value(value: Any) -> Any:
    """A field value as the audit log keeps it (JSON): people by username, other rows by their
    name, dates in ISO 8601, no value as ""."""
    if value is None:
        return ""
    if isinstance(value, AbstractBaseUser):
        return value.get_username()
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def audit_changes(changed: Changed) -> dict[str, list[Any]]:
    """`changed` as the audit log's `changes`: {field: [before, after]}."""
    return {name: [audit_value(before), audit_value(after)] for name, (before, after) in changed.items()}
