from django.urls import path

from reviews import feeds
from reviews.views import actions, insights, narratives, review, trainings

app_name = "reviews"

urlpatterns = [
    path("incidents/<int:pk>/review/schedule/", review.review_schedule, name="schedule"),
    path("incidents/<int:pk>/narrative/", narratives.narrative_draft, name="narrative_draft"),
    path("reviews/<int:pk>/", review.review_facilitate, name="facilitate"),
    path("reviews/<int:pk>/edit/", review.review_edit, name="edit"),
    path("reviews/<int:pk>/cancel/", review.review_cancel, name="cancel"),
    path("reviews/<int:pk>/live/", review.review_live, name="live"),
    path("reviews/<int:pk>/start/", review.review_start, name="start"),
    path("reviews/<int:pk>/held/", review.review_held, name="held"),
    path("reviews/<int:pk>/steps/", review.review_step, name="step"),
    path("reviews/<int:pk>/steps/current/", review.review_step_go, name="step_go"),
    path("reviews/<int:pk>/notes/<str:field>/", review.review_notes, name="notes"),
    path("reviews/<int:pk>/perspective/", review.perspective_save, name="perspective"),
    path("reviews/<int:pk>/factors/", review.factor_add, name="factor_add"),
    path("reviews/<int:pk>/factors/<int:factor_id>/", review.factor_update, name="factor_update"),
    path("reviews/<int:pk>/factors/<int:factor_id>/links/", review.factor_links, name="factor_links"),
    path("reviews/<int:pk>/factors/<int:factor_id>/delete/", review.factor_delete, name="factor_delete"),
    path("reviews/<int:pk>/factors/suggest/", review.factor_suggest, name="factor_suggest"),
    path(
        "reviews/<int:pk>/suggestions/<int:suggestion_id>/accept/",
        review.suggestion_accept,
        name="suggestion_accept",
    ),
    path(
        "reviews/<int:pk>/suggestions/<int:suggestion_id>/dismiss/",
        review.suggestion_dismiss,
        name="suggestion_dismiss",
    ),
    path("reviews/<int:pk>/learnings/", review.learning_add, name="learning_add"),
    path("reviews/<int:pk>/learnings/<int:learning_id>/", review.learning_update, name="learning_update"),
    path("reviews/<int:pk>/learnings/<int:learning_id>/links/", review.learning_links, name="learning_links"),
    path("reviews/<int:pk>/learnings/<int:learning_id>/move/", review.learning_move, name="learning_move"),
    path(
        "reviews/<int:pk>/learnings/<int:learning_id>/delete/", review.learning_delete, name="learning_delete"
    ),
    path("reviews/<int:pk>/actions/", review.action_add, name="action_add"),
    path("reviews/<int:pk>/actions/<int:action_id>/", review.action_edit, name="action_edit"),
    path(
        "reviews/<int:pk>/actions/<int:action_id>/withdraw/", review.action_withdraw, name="action_withdraw"
    ),
    path("actions/", actions.action_backlog, name="actions"),
    path("insights/", insights.insights, name="insights"),
    path("insights/export.csv", insights.insights_export, name="insights_export"),
    path("trainings/", trainings.training_list, name="trainings"),
    path("trainings/<int:pk>/remove/", trainings.training_remove, name="training_remove"),
    path("actions/<int:pk>/status/", actions.action_status, name="action_status"),
    path("actions/<int:pk>/", actions.action_detail, name="action"),
    path("actions/<int:pk>/edit/", actions.action_inline_edit, name="action_inline_edit"),
    path("narratives/", narratives.narrative_library, name="library"),
    path("narratives/feed/", feeds.narrative_feed_view, name="feed"),
    path("narratives/feed/<str:token>/", feeds.private_narrative_feed_view, name="private_feed"),
    path("narratives/<int:pk>/", narratives.narrative_detail, name="narrative"),
    path("narratives/<int:pk>/edit/", narratives.narrative_edit, name="narrative_edit"),
    path("narratives/<int:pk>/publish/", narratives.narrative_publish, name="narrative_publish"),
    path("narratives/<int:pk>/blend/", narratives.narrative_blend, name="narrative_blend"),
    path("narratives/<int:pk>/download.md", narratives.narrative_download, name="narrative_download"),
    path("narratives/<int:pk>/revisions/", narratives.narrative_revisions, name="narrative_revisions"),
    path(
        "narratives/<int:pk>/walkthroughs/new/", narratives.walkthrough_schedule, name="walkthrough_schedule"
    ),
    path("walkthroughs/<int:pk>/cancel/", narratives.walkthrough_cancel, name="walkthrough_cancel"),
    path(
        "walkthroughs/<int:pk>/preparation/",
        narratives.walkthrough_preparation,
        name="walkthrough_preparation",
    ),
]
