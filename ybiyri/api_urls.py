"""The API under /api/: one router for every collection, the OpenAPI schema and its docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from incidents.api import evidence as evidence_api
from incidents.api import views as incidents_api
from reviews.api import views as reviews_api
from reviews.api import walkthroughs as walkthroughs_api
from ybiyri.api_errors import api_not_found

router = DefaultRouter()
router.register("users", incidents_api.UserViewSet, basename="user")
router.register("teams", incidents_api.TeamViewSet, basename="team")
router.register("services", incidents_api.ServiceViewSet, basename="service")
router.register("incidents", incidents_api.IncidentViewSet, basename="incident")
router.register("analyses", incidents_api.AnalysisViewSet, basename="analysis")
router.register("interviews", incidents_api.InterviewViewSet, basename="interview")
router.register("key-events", incidents_api.KeyEventViewSet, basename="key-event")
router.register("themes", incidents_api.ThemeViewSet, basename="theme")
router.register("reviews", reviews_api.ReviewViewSet, basename="review")
router.register("contributing-factors", reviews_api.ContributingFactorViewSet, basename="contributing-factor")
router.register("learnings", reviews_api.LearningViewSet, basename="learning")
router.register("actions", reviews_api.ActionViewSet, basename="action")
router.register("narratives", reviews_api.NarrativeViewSet, basename="narrative")
router.register("deliveries", reviews_api.DeliveryViewSet, basename="delivery")
router.register("trainings", reviews_api.TrainingViewSet, basename="training")
router.register("walkthroughs", walkthroughs_api.WalkthroughViewSet, basename="walkthrough")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads its initialiser as a file, so the page keeps a strict CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("incidents/<int:pk>/evidence/", evidence_api.EvidenceList.as_view(), name="incident-evidence"),
    path(
        "incidents/<int:pk>/evidence/picks/",
        evidence_api.EvidencePicks.as_view(),
        name="incident-evidence-picks",
    ),
    path(
        "incidents/<int:pk>/evidence/import-slack/",
        evidence_api.SlackImportCreate.as_view(),
        name="incident-evidence-import-slack",
    ),
    path(
        "incidents/<int:pk>/evidence/imports/<int:job_id>/",
        evidence_api.SlackImportDetail.as_view(),
        name="incident-evidence-import",
    ),
    path(
        "incidents/<int:pk>/evidence/upload/",
        evidence_api.SlackExportUpload.as_view(),
        name="incident-evidence-upload",
    ),
    path("incidents/<int:pk>/confirm/", evidence_api.DraftDecision.as_view(), name="incident-confirm"),
    path("incidents/<int:pk>/dismiss/", evidence_api.DraftDismiss.as_view(), name="incident-dismiss"),
    path("evidence/<int:pk>/promote/", evidence_api.EvidencePromote.as_view(), name="evidence-promote"),
    path("", include(router.urls)),
    re_path(r"", api_not_found),
]
