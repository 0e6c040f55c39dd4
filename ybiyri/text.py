"""Text for people, shared by pages, mails, tickets and narratives."""

from datetime import timedelta


def single_line(text: str) -> str:
    """Titles are one line: they become email subjects and ticket summaries, where line breaks break."""
    return " ".join(text.split())


def format_duration(duration: timedelta) -> str:
    """A duration for people: "5 d 1 h", "3 h 20 min", "12 min"."""
    minutes = int(duration.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part) or "under a minute"
