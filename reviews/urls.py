from django.urls import path

from reviews import views

app_name = "reviews"

urlpatterns = [
    path("narratives/", views.narrative_library, name="library"),
]
