"""Evidence: pager webhooks under /integrations/, the evidence pages, the drafts from the pager."""

from django.urls import path

from incidents.evidence import views, webhooks

app_name = "evidence"

urlpatterns = [
    path("integrations/pagerduty/webhook/", webhooks.pagerduty_webhook, name="pagerduty_webhook"),
    path("integrations/opsgenie/webhook/", webhooks.opsgenie_webhook, name="opsgenie_webhook"),
    path("integrations/alertmanager/webhook/", webhooks.alertmanager_webhook, name="alertmanager_webhook"),
    path("incidents/drafts/", views.drafts, name="drafts"),
    path("incidents/<int:pk>/confirm/", views.draft_confirm, name="confirm"),
    path("incidents/<int:pk>/dismiss/", views.draft_dismiss, name="dismiss"),
    path("incidents/<int:pk>/evidence/", views.incident_evidence, name="incident"),
    path("incidents/<int:pk>/evidence/slack/", views.slack_import, name="slack_import"),
    path("incidents/<int:pk>/evidence/upload/", views.slack_upload, name="slack_upload"),
    path("analyses/<int:pk>/evidence/", views.analysis_evidence, name="analysis"),
    path(
        "analyses/<int:pk>/evidence/<int:evidence_id>/promote/",
        views.evidence_promote,
        name="promote",
    ),
]
