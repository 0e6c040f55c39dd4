"""Permission questions templates ask, answered by the same rules the views apply."""

from django import template

from incidents.audit import can_read_audit_log
from incidents.models import User

register = template.Library()


@register.filter
def may_read_audit_log(user: User) -> bool:
    """Whether the navigation shows the audit log: exactly those the audit page lets in."""
    return can_read_audit_log(viewer=user)
