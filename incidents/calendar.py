"""iCalendar (RFC 5545) invitations for time-boxed analyses, reviews and walkthroughs."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.mail import EmailMessage
from icalendar import Calendar, Event, vCalAddress, vText

from incidents.models import User


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    summary: str
    description: str
    start: datetime
    end: datetime
    organizer: User
    attendees: tuple[User, ...]
    location: str = ""
    url: str = ""


def calendar_address(user: User) -> vCalAddress:
    address = vCalAddress(f"mailto:{user.email}")
    address.params["cn"] = vText(user.display_name)
    return address


def calendar_ics(event: CalendarEvent, *, method: str = "REQUEST") -> str:
    """One VEVENT in a VCALENDAR with the given METHOD (REQUEST or CANCEL); times in UTC."""
    calendar = Calendar()
    calendar.add("prodid", "-//ybiyri//incident learning//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", datetime.now(tz=UTC))
    vevent.add("dtstart", event.start.astimezone(UTC))
    vevent.add("dtend", event.end.astimezone(UTC))
    vevent.add("summary", event.summary)
    vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    if event.url:
        vevent.add("url", event.url)
    vevent.add("organizer", calendar_address(event.organizer))
    for attendee in event.attendees:
        address = calendar_address(attendee)
        address.params["role"] = vText("REQ-PARTICIPANT")
        address.params["partstat"] = vText("NEEDS-ACTION")
        address.params["rsvp"] = vText("TRUE")
        vevent.add("attendee", address, encode=False)
    vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    calendar.add_component(vevent)
    return calendar.to_ical().decode()


def calendar_attach(message: EmailMessage, *, ics: str, method: str) -> None:
    """Attach an invitation so that mail clients offer to add it to the calendar."""
    message.attach("invite.ics", ics, f"text/calendar; charset=utf-8; method={method}")


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"
