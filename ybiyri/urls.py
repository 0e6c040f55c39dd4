from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ybiyri.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("integrations/", include("reviews.backlog.urls")),
    path("broadcast/", include("reviews.broadcast.urls")),
    path("api/", include("ybiyri.api_urls")),
    path("", include("incidents.urls")),
    path("", include("reviews.urls")),
]
