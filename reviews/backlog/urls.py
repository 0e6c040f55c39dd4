from django.urls import path

from reviews.backlog import views

app_name = "backlog"

urlpatterns = [
    path("jira/webhook/", views.jira_webhook, name="jira_webhook"),
    path("trello/webhook/", views.trello_webhook, name="trello_webhook"),
    path("actions/<int:pk>/retry/", views.action_retry, name="retry"),
]
