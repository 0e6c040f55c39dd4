"""What ybiyri's subclasses rely on in libraries they override beyond the documented hooks.

``ybiyri.auth`` replaces mozilla-django-oidc's private ``_verify_jws`` (to check audience, issuer
and expiry) and the constructors of its backend and request view (to resolve endpoints lazily);
``ybiyri.api_errors`` extends drf-spectacular's private ``AutoSchema._get_response_bodies``. A
release that renames, re-signs or stops calling one of them would silently bypass the override
(an ID token accepted unchecked, errors missing from the schema), so an upgrade past the pinned
minor release, or any change to these methods, fails here first.
"""

import inspect
import re
from importlib.metadata import version

import pytest
from drf_spectacular.openapi import AutoSchema
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from ybiyri.api_errors import ErrorDocumentingSchema
from ybiyri.auth import OIDCAuthenticateView, OIDCBackend, OIDCCallbackView


def minor_release(distribution: str) -> str:
    return ".".join(version(distribution).split(".")[:2])


def assigned_attributes(function: object) -> set[str]:
    return set(re.findall(r"self\.(OIDC_[A-Z_]+) = ", inspect.getsource(function)))


def test_the_overridden_libraries_are_the_minor_releases_these_contracts_were_checked_against():
    assert minor_release("mozilla-django-oidc") == "5.0"
    assert minor_release("drf-spectacular") == "0.30"


OVERRIDDEN = [
    (OIDCAuthenticationBackend, "_verify_jws", "(self, payload, key)"),
    (OIDCAuthenticationBackend, "__init__", "(self, *args, **kwargs)"),
    (OIDCAuthenticationBackend, "get_settings", "(attr, *args)"),
    (OIDCAuthenticationBackend, "authenticate", "(self, request, **kwargs)"),
    (OIDCAuthenticationBackend, "verify_claims", "(self, claims)"),
    (OIDCAuthenticationBackend, "filter_users_by_claims", "(self, claims)"),
    (OIDCAuthenticationBackend, "get_username", "(self, claims)"),
    (OIDCAuthenticationBackend, "create_user", "(self, claims)"),
    (OIDCAuthenticationBackend, "update_user", "(self, user, claims)"),
    (OIDCAuthenticationRequestView, "__init__", "(self, *args, **kwargs)"),
    (OIDCAuthenticationRequestView, "get_settings", "(attr, *args)"),
    (OIDCAuthenticationRequestView, "get", "(self, request)"),
    (OIDCAuthenticationCallbackView, "get_settings", "(attr, *args)"),
    (OIDCAuthenticationCallbackView, "login_failure", "(self)"),
    (OIDCAuthenticationCallbackView, "get", "(self, request)"),
    (
        AutoSchema,
        "_get_response_bodies",
        "(self, direction: Literal['request', 'response'] = 'response') -> Dict[str, Any]",
    ),
]


@pytest.mark.parametrize(
    ("library_class", "method", "signature"),
    OVERRIDDEN,
    ids=[f"{library_class.__name__}.{method}" for library_class, method, _ in OVERRIDDEN],
)
def test_the_library_methods_ybiyri_overrides_keep_their_signature(library_class, method, signature):
    assert str(inspect.signature(getattr(library_class, method))) == signature


def test_the_oidc_backend_still_verifies_id_tokens_through_the_overridden_private_method():
    assert OIDCBackend._verify_jws is not OIDCAuthenticationBackend._verify_jws
    assert "self._verify_jws(" in inspect.getsource(OIDCAuthenticationBackend.get_payload_data)


def test_the_oidc_backend_provides_every_setting_the_skipped_library_constructor_would_set():
    needed = assigned_attributes(OIDCAuthenticationBackend.__init__)
    assert "OIDC_RP_SIGN_ALGO" in needed
    provided = {name for name, value in vars(OIDCBackend).items() if isinstance(value, property)}
    assert needed <= provided


def test_the_oidc_request_view_sets_every_setting_the_skipped_library_constructor_would_set():
    needed = assigned_attributes(OIDCAuthenticationRequestView.__init__)
    assert needed == {"OIDC_OP_AUTH_ENDPOINT", "OIDC_RP_CLIENT_ID"}
    assert needed <= assigned_attributes(OIDCAuthenticateView.get)


def test_the_oidc_callback_view_still_reads_its_failure_address_from_a_property():
    assert isinstance(vars(OIDCAuthenticationCallbackView)["failure_url"], property)
    assert isinstance(vars(OIDCCallbackView)["failure_url"], property)


def test_the_schema_generator_still_builds_every_operations_responses_through_the_overridden_method():
    assert "_get_response_bodies" in vars(ErrorDocumentingSchema)
    assert "self._get_response_bodies()" in inspect.getsource(AutoSchema.get_operation)
