"""Admin for evidence and Slack imports (read mostly: evidence comes from the sources)."""

from django.contrib import admin

from incidents.evidence.models import Evidence, SlackImport


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "incident", "source", "kind", "author_name", "deleted_at")
    list_filter = ("source", "kind")
    search_fields = ("text", "author_name", "author_email", "external_id")
    raw_id_fields = ("incident", "author")
    date_hierarchy = "occurred_at"


@admin.register(SlackImport)
class SlackImportAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "incident",
        "channel",
        "state",
        "messages_seen",
        "messages_added",
        "attempts",
    )
    list_filter = ("state",)
    raw_id_fields = ("incident", "requested_by")
    readonly_fields = ("cursor", "messages_seen", "messages_added", "attempts", "claimed_at", "finished_at")
