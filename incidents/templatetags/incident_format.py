from django import template

register = template.Library()


@register.filter
def minutes(value: int | None) -> str:
    """A number of minutes of work for people: "12 min", "1 h 30 min", "40 h"; an em dash when unknown."""
    if value is None:
        return "—"
    hours, rest = divmod(int(value), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
