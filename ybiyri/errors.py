"""Errors the domain raises that every interface (pages, API) answers in its own way."""


class Conflict(Exception):
    """A write refused because of the state it met (HTTP 409): a newer version saved meanwhile, a
    loop still open. The API answers ``{"detail": str(error), **error.details()}``."""

    def details(self) -> dict:
        return {}
