from django.urls import path

from reviews.broadcast import views

app_name = "broadcast"

urlpatterns = [
    path("narratives/<int:pk>/status/", views.narrative_broadcast_status, name="status"),
    path("narratives/<int:pk>/retry/", views.narrative_broadcast_retry, name="retry"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
