from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from incidents.audit import audit_log
from ybiyri.auth import ThrottledAdminAuthenticationForm, ThrottledLoginView
from ybiyri.views import healthz

# The admin's sign-in form is another way to guess passwords: throttle it like the main one.
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("audit/", audit_log, name="audit"),
    path("integrations/", include("reviews.backlog.urls")),
    path("broadcast/", include("reviews.broadcast.urls")),
    path("api/", include("ybiyri.api_urls")),
    path("", include("incidents.evidence.urls")),
    path("", include("incidents.urls")),
    path("", include("reviews.urls")),
]

if settings.OIDC_RP_CLIENT_ID:
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))
