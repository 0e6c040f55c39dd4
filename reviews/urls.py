from django.urls import path

from reviews import feeds, views

app_name = "reviews"

urlpatterns = [
    path("incidents/<int:pk>/review/schedule/", views.review_schedule, name="schedule"),
    path("incidents/<int:pk>/narrative/", views.narrative_draft, name="narrative_draft"),
    path("reviews/<int:pk>/", views.review_facilitate, name="facilitate"),
    path("reviews/<int:pk>/edit/", views.review_edit, name="edit"),
    path("reviews/<int:pk>/cancel/", views.review_cancel, name="cancel"),
    path("reviews/<int:pk>/held/", views.review_held, name="held"),
    path("reviews/<int:pk>/steps/", views.review_step, name="step"),
    path("reviews/<int:pk>/notes/", views.review_notes, name="notes"),
    path("reviews/<int:pk>/factors/", views.factor_add, name="factor_add"),
    path("reviews/<int:pk>/factors/<int:factor_id>/delete/", views.factor_delete, name="factor_delete"),
    path("reviews/<int:pk>/learnings/", views.learning_add, name="learning_add"),
    path("reviews/<int:pk>/learnings/<int:learning_id>/move/", views.learning_move, name="learning_move"),
    path(
        "reviews/<int:pk>/learnings/<int:learning_id>/delete/", views.learning_delete, name="learning_delete"
    ),
    path("reviews/<int:pk>/actions/", views.action_add, name="action_add"),
    path("actions/", views.action_backlog, name="actions"),
    path("insights/", views.insights, name="insights"),
    path("actions/<int:pk>/status/", views.action_status, name="action_status"),
    path("narratives/", views.narrative_library, name="library"),
    path("narratives/feed/", feeds.narrative_feed_view, name="feed"),
    path("narratives/feed/<str:token>/", feeds.private_narrative_feed_view, name="private_feed"),
    path("narratives/<int:pk>/", views.narrative_detail, name="narrative"),
    path("narratives/<int:pk>/edit/", views.narrative_edit, name="narrative_edit"),
    path("narratives/<int:pk>/publish/", views.narrative_publish, name="narrative_publish"),
    path("narratives/<int:pk>/revisions/", views.narrative_revisions, name="narrative_revisions"),
    path("narratives/<int:pk>/walkthroughs/new/", views.walkthrough_schedule, name="walkthrough_schedule"),
    path("walkthroughs/<int:pk>/cancel/", views.walkthrough_cancel, name="walkthrough_cancel"),
]
