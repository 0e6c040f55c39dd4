from django.urls import path

from reviews import feeds
from reviews.views import actions, insights, narratives, review

app_name = "reviews"

urlpatterns = [
    path("incidents/<int:pk>/review/schedule/", review.review_schedule, name="schedule"),
    path("incidents/<int:pk>/narrative/", narratives.narrative_draft, name="narrative_draft"),
    path("reviews/<int:pk>/", review.review_facilitate, name="facilitate"),
    path("reviews/<int:pk>/edit/", review.review_edit, name="edit"),
    path("reviews/<int:pk>/cancel/", review.review_cancel, name="cancel"),
    path("reviews/<int:pk>/held/", review.review_held, name="held"),
    path("reviews/<int:pk>/steps/", review.review_step, name="step"),
    path("reviews/<int:pk>/notes/", review.review_notes, name="notes"),
    path("reviews/<int:pk>/factors/", review.factor_add, name="factor_add"),
    path("reviews/<int:pk>/factors/<int:factor_id>/delete/", review.factor_delete, name="factor_delete"),
    path("reviews/<int:pk>/learnings/", review.learning_add, name="learning_add"),
    path("reviews/<int:pk>/learnings/<int:learning_id>/move/", review.learning_move, name="learning_move"),
    path(
        "reviews/<int:pk>/learnings/<int:learning_id>/delete/", review.learning_delete, name="learning_delete"
    ),
    path("reviews/<int:pk>/actions/", review.action_add, name="action_add"),
    path("actions/", actions.action_backlog, name="actions"),
    path("insights/", insights.insights, name="insights"),
    path("actions/<int:pk>/status/", actions.action_status, name="action_status"),
    path("narratives/", narratives.narrative_library, name="library"),
    path("narratives/feed/", feeds.narrative_feed_view, name="feed"),
    path("narratives/feed/<str:token>/", feeds.private_narrative_feed_view, name="private_feed"),
    path("narratives/<int:pk>/", narratives.narrative_detail, name="narrative"),
    path("narratives/<int:pk>/edit/", narratives.narrative_edit, name="narrative_edit"),
    path("narratives/<int:pk>/publish/", narratives.narrative_publish, name="narrative_publish"),
    path("narratives/<int:pk>/revisions/", narratives.narrative_revisions, name="narrative_revisions"),
    path(
        "narratives/<int:pk>/walkthroughs/new/", narratives.walkthrough_schedule, name="walkthrough_schedule"
    ),
    path("walkthroughs/<int:pk>/cancel/", narratives.walkthrough_cancel, name="walkthrough_cancel"),
]
