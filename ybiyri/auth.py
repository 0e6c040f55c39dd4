"""Signing in: local accounts with throttling against password guessing, and OpenID Connect SSO.

Throttling counts failed attempts per account (the username, case-insensitively) and per client
address in the Django cache (Redis in production, so every web process shares the counts). Within
``LOGIN_FAILURE_WINDOW_SECONDS``, once an account has ``LOGIN_FAILURE_LIMIT`` failures, or an
address has ``LOGIN_FAILURE_ADDRESS_LIMIT`` (a much higher count: a whole office may sign in from
behind one NAT address), the form refuses *before* checking the password, so a guesser learns
nothing more until the window has passed.

Single sign-on uses mozilla-django-oidc, configured in settings only when ``OIDC_RP_CLIENT_ID``
is set. The subclasses here add what the library leaves out: discovery
(``OIDC_OP_DISCOVERY``), audience / issuer / expiry checks on the ID token, mapping the
provider's claims onto :class:`incidents.models.User`, and refusals that end on the sign-in page
with a message instead of an error page. Two refusals get a page of their own, because the person
can do something about them: an email address the provider has not verified (accounts are found
by email, so an unverified one would hand its account to whoever typed it in at the provider), and
a staff or superuser account (administrators sign in locally, never through the provider).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from incidents.models import User

logger = logging.getLogger(__name__)


# --- Login throttling ----------------------------------------------------------------------


def client_ip(request: HttpRequest | None) -> str:
    """The address a request came from.

    Behind a trusted reverse proxy (``LOGIN_TRUST_X_FORWARDED_FOR``) that is the last
    X-Forwarded-For hop — the one the proxy itself appended; earlier hops are client-supplied
    and could be forged to dodge the per-address count.
    """
    if request is None:
        return "unknown"
    if getattr(settings, "LOGIN_TRUST_X_FORWARDED_FOR", False):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR") or "unknown"


def _username_key(username: str) -> str:
    # Hashed so that arbitrary user input never becomes part of a cache key verbatim.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return f"login-failures:user:{digest}"


def _address_key(address: str) -> str:
    return f"login-failures:ip:{address}"


def _throttle_limits(*, username: str, address: str) -> dict[str, int]:
    """The cache keys that count this attempt's failures, each with the count that locks it."""
    limits = {_address_key(address): settings.LOGIN_FAILURE_ADDRESS_LIMIT}
    if username.strip():
        limits[_username_key(username)] = settings.LOGIN_FAILURE_LIMIT
    return limits


def login_is_throttled(*, username: str, address: str) -> bool:
    """True when the account or the address has used up its failed attempts in the window."""
    limits = _throttle_limits(username=username, address=address)
    counts = cache.get_many(list(limits))
    return any(count >= limits[key] for key, count in counts.items())


def login_failure_record(*, username: str, address: str) -> None:
    """Count one failed attempt against the account and the address.

    The window is fixed from the first failure (the key's expiry is set when it is created and
    ``incr`` keeps it), so a guesser cannot keep a count alive forever nor reset it by waiting
    part of the window.
    """
    for key in _throttle_limits(username=username, address=address):
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            # The key expired between add() and incr(): this failure starts a new window.
            cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_success_record(*, username: str) -> None:
    """Forget the username's failures once its owner signs in; the address count stays."""
    cache.delete(_username_key(username))


class ThrottledLoginMixin(AuthenticationForm):
    """Refuse sign-in attempts over the limit without checking the password; count failures."""

    throttled = False
    throttle_message = (
        "Too many failed sign-in attempts for this account or from this address. "
        "Please wait %(minutes)d minutes before trying again."
    )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_ip(self.request)
        if login_is_throttled(username=username, address=address):
            self.throttled = True
            minutes = max(1, -(-settings.LOGIN_FAILURE_WINDOW_SECONDS // 60))
            raise ValidationError(self.throttle_message, code="throttled", params={"minutes": minutes})
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                login_failure_record(username=username, address=address)
            raise
        if self.get_user() is not None:
            login_success_record(username=username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    """The sign-in form for local accounts."""


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin site's sign-in form, throttled like the main one (it is another way in)."""


class ThrottledLoginView(LoginView):
    """The sign-in page: answers 429 with Retry-After when attempts are throttled."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if isinstance(form, ThrottledLoginMixin) and form.throttled:
            response.status_code = 429
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))
        return context


# --- OpenID Connect single sign-on ---------------------------------------------------------

# Settings that may come from the provider's discovery document instead of the environment.
DISCOVERED_SETTINGS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_ISSUER": "issuer",
}
DISCOVERY_CACHE_SECONDS = 3600


def oidc_provider_metadata() -> dict[str, Any]:
    """The provider's discovery document (OIDC_OP_DISCOVERY), cached for an hour.

    Raises ``requests.RequestException`` when the provider cannot be reached; callers turn that
    into a message on the sign-in page. Returns ``{}`` when discovery is not configured.
    """
    url = getattr(settings, "OIDC_OP_DISCOVERY", "")
    if not url:
        return {}
    cache_key = "oidc-discovery:" + hashlib.sha256(url.encode()).hexdigest()
    metadata = cache.get(cache_key)
    if metadata is None:
        # https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
        response = requests.get(url, timeout=getattr(settings, "OIDC_TIMEOUT", 10))
        response.raise_for_status()
        metadata = response.json()
        cache.set(cache_key, metadata, timeout=DISCOVERY_CACHE_SECONDS)
    return metadata


class SingleSignOnRefused(Exception):
    """The provider vouched for this person, but ybiyri will not sign them in this way.

    Raised from the backend through ``django.contrib.auth.authenticate`` (which lets anything but
    PermissionDenied through) so that the callback can explain the refusal on its own page.
    """

    template_name: str

    def __init__(self, message: str, *, email: str) -> None:
        super().__init__(message)
        self.email = email


class UnverifiedEmailRefused(SingleSignOnRefused):
    template_name = "registration/sso_unverified_email.html"


class PrivilegedAccountRefused(SingleSignOnRefused):
    template_name = "registration/sso_privileged_account.html"


def email_is_verified(claims: dict[str, Any]) -> bool:
    """Whether the provider vouches for the email claim: ``email_verified`` is boolean true, or
    the string "true" that some providers send. Absent, false or anything else is not."""
    verified = claims.get("email_verified")
    if isinstance(verified, str):
        return verified.strip().lower() == "true"
    return verified is True


def oidc_setting(name: str, *default: Any) -> Any:
    """A setting for the OIDC library: the environment's value first, else the discovered one."""
    if name not in DISCOVERED_SETTINGS:
        return import_from_settings(name, *default)
    value = getattr(settings, name, "") or oidc_provider_metadata().get(DISCOVERED_SETTINGS[name], "")
    if value:
        return value
    if default:
        return default[0]
    raise ImproperlyConfigured(f"{name} is not set and the provider's discovery document lacks it")


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs people in with the organisation's identity provider, mapping claims onto User.

    People are matched by verified email (case-insensitive); a new account takes the
    provider's ``preferred_username`` when free and also needs a verified email. Staff and
    superuser accounts are never signed in this way. Name and email are refreshed from the
    claims at every sign-in. ID tokens must be signed with ``OIDC_RP_SIGN_ALGO``, name this
    application as audience, come from the configured issuer and be unexpired (with
    ``OIDC_CLOCK_SKEW_SECONDS`` of leeway); anything else is refused and logged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads every endpoint here; this backend is also built for every local
        # sign-in, so endpoints are resolved lazily (below) and a provider outage or a
        # discovery round-trip never touches password sign-ins.
        self.UserModel = User

    get_settings = staticmethod(oidc_setting)

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return oidc_setting("OIDC_OP_TOKEN_ENDPOINT")

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return oidc_setting("OIDC_OP_USER_ENDPOINT")

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return oidc_setting("OIDC_OP_JWKS_ENDPOINT")

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return settings.OIDC_RP_CLIENT_ID

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return settings.OIDC_RP_CLIENT_SECRET

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:
        return getattr(settings, "OIDC_RP_SIGN_ALGO", "RS256")

    @property
    def OIDC_RP_IDP_SIGN_KEY(self) -> str | None:
        return getattr(settings, "OIDC_RP_IDP_SIGN_KEY", None)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or "code" not in request.GET or "state" not in request.GET:
            return None  # a password sign-in, not ours
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, requests.RequestException, jwt.PyJWTError, ImproperlyConfigured) as exc:
            logger.warning("Single sign-on refused: %s", exc)
            return None

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        """Verify signature, audience, issuer and expiry of an ID token (the library checks only
        the signature and lets an expired token escape as an unhandled error)."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(
                f"ID token signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO!r}"
            )
        issuer = oidc_setting("OIDC_OP_ISSUER", "") or None
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=issuer,
                leeway=getattr(settings, "OIDC_CLOCK_SKEW_SECONDS", 60),
                options={"require": ["exp", "iat", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        # OIDC Core 3.1.3.7: with several audiences, the token must be issued to us (azp).
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("ID token has several audiences and was not issued to this client")
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        """An email is needed to find or create the account (without one the sign-in fails);
        one the provider has not verified is refused with its own explanation."""
        email = claims.get("email")
        if not email:
            return False
        if not email_is_verified(claims):
            raise UnverifiedEmailRefused(
                f"the provider did not verify {email!r} (email_verified={claims.get('email_verified')!r})",
                email=email,
            )
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet[User]:
        return User.objects.filter(email__iexact=claims.get("email", ""))

    def get_username(self, claims: dict[str, Any]) -> str:
        """The provider's preferred_username when no one has it yet, else one derived from email."""
        max_length = User._meta.get_field("username").max_length or 150  # a CharField always has one
        candidates = [claims.get("preferred_username") or "", (claims.get("email") or "").split("@")[0]]
        for candidate in candidates:
            candidate = candidate.strip()[:max_length]
            if candidate and not User.objects.filter(username__iexact=candidate).exists():
                return candidate
        base = (candidates[0] or candidates[1] or "user").strip()[: max_length - 9]
        suffix = hashlib.sha256(claims["email"].casefold().encode()).hexdigest()[:8]
        return f"{base}-{suffix}"

    @staticmethod
    def names_from_claims(claims: dict[str, Any]) -> tuple[str, str]:
        first, last = claims.get("given_name") or "", claims.get("family_name") or ""
        if not (first or last) and claims.get("name"):
            first, _, last = claims["name"].strip().partition(" ")
        first_max = User._meta.get_field("first_name").max_length
        last_max = User._meta.get_field("last_name").max_length
        return first[:first_max], last[:last_max]

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> User:
        first_name, last_name = self.names_from_claims(claims)
        # No usable password: this person signs in through the provider only.
        return User.objects.create_user(
            self.get_username(claims), email=claims["email"], first_name=first_name, last_name=last_name
        )

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        """Refresh the matched account from the claims; an administrator's account is refused, so
        that whoever controls an address at the provider cannot take over an admin account."""
        if user.is_staff or user.is_superuser:
            raise PrivilegedAccountRefused(
                f"{user.username!r} is a staff or superuser account and signs in locally only",
                email=claims["email"],
            )
        first_name, last_name = self.names_from_claims(claims)
        changed = {
            field: value
            for field, value in {
                "first_name": first_name,
                "last_name": last_name,
                "email": claims["email"],
            }.items()
            if value and getattr(user, field) != value
        }
        if changed:
            for field, value in changed.items():
                setattr(user, field, value)
            user.save(update_fields=list(changed))
        return user


@method_decorator(login_not_required, name="dispatch")
class OIDCAuthenticateView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider; endpoints come from the environment or discovery."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The parent reads the endpoint at construction; resolve it in get() where a provider
        # outage can be answered with a message.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except (requests.RequestException, ValueError, ImproperlyConfigured) as exc:
            logger.warning("Single sign-on unavailable: %s", exc)
            messages.error(request, "Single sign-on is unavailable right now. Please try again shortly.")
            return HttpResponseRedirect(reverse("login"))
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class OIDCCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; a refusal ends on the sign-in page."""

    get_settings = staticmethod(oidc_setting)

    @property
    def failure_url(self) -> str:
        return reverse("login")

    def login_failure(self) -> HttpResponse:
        messages.error(
            self.request, "Single sign-on did not succeed. Please try again or sign in with a password."
        )
        return super().login_failure()

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            # An unknown or replayed `state`: refuse like any other failure, without a 400 page.
            logger.warning("Single sign-on callback refused: %s", exc)
            return self.login_failure()
        except SingleSignOnRefused as refusal:
            logger.warning("Single sign-on refused: %s", refusal)
            return render(request, refusal.template_name, {"email": refusal.email}, status=403)
