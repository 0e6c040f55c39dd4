from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.my_work, name="my_work"),
    path("settings/", views.account_settings, name="settings"),
    path("incidents/", views.incident_list, name="list"),
]
