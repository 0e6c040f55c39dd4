from django.urls import path

from incidents import service_views, views

app_name = "incidents"

urlpatterns = [
    path("", views.my_work, name="my_work"),
    path("settings/", views.account_settings, name="settings"),
    path("preview/", views.markdown_preview, name="preview"),
    path("people/", views.people_search, name="people"),
    path("incidents/", views.incident_list, name="list"),
    path("services/", service_views.service_list, name="services"),
    path("services/<int:pk>/edit/", service_views.service_edit, name="service_edit"),
    path("incidents/declare/", views.incident_declare, name="declare"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="edit"),
    path("incidents/<int:pk>/timeline/", views.incident_timeline, name="timeline"),
    path("incidents/<int:pk>/responders/", views.responder_add, name="responder_add"),
    path(
        "incidents/<int:pk>/responders/<int:responder_id>/remove/",
        views.responder_remove,
        name="responder_remove",
    ),
    path(
        "incidents/<int:pk>/responders/<int:responder_id>/role/",
        views.responder_role,
        name="responder_role",
    ),
    path("incidents/<int:pk>/allocate/", views.analysis_allocate, name="allocate"),
    path("analyses/<int:pk>/", views.analysis_edit, name="analysis"),
    path("analyses/<int:pk>/submit/", views.analysis_submit, name="analysis_submit"),
    path("analyses/<int:pk>/waive/", views.analysis_waive, name="analysis_waive"),
    path("analyses/<int:pk>/autosave/", views.analysis_autosave, name="analysis_autosave"),
    path("analyses/<int:pk>/interviews/", views.interview_add, name="interview_add"),
    path(
        "analyses/<int:pk>/interviews/<int:interview_id>/edit/",
        views.interview_edit,
        name="interview_edit",
    ),
    path(
        "analyses/<int:pk>/interviews/<int:interview_id>/delete/",
        views.interview_delete,
        name="interview_delete",
    ),
    path("analyses/<int:pk>/key-events/", views.key_event_add, name="key_event_add"),
    path(
        "analyses/<int:pk>/key-events/<int:key_event_id>/edit/",
        views.key_event_edit,
        name="key_event_edit",
    ),
    path(
        "analyses/<int:pk>/key-events/<int:key_event_id>/delete/",
        views.key_event_delete,
        name="key_event_delete",
    ),
]
