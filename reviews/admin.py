from django.contrib import admin

from reviews.models import (
    ContributingFactor,
    Delivery,
    FactorSuggestion,
    ImprovementAction,
    Learning,
    Narrative,
    NarrativeRead,
    NarrativeRevision,
    NarrativeTemplate,
    Perspective,
    Review,
    Training,
    Walkthrough,
)


class FactorInline(admin.TabularInline):
    model = ContributingFactor
    extra = 0
    raw_id_fields = ("created_by",)


class LearningInline(admin.TabularInline):
    model = Learning
    extra = 0
    raw_id_fields = ("created_by",)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("incident", "scheduled_at", "status", "facilitator", "sequence")
    list_filter = ("status",)
    raw_id_fields = ("incident", "facilitator", "scheduled_by")
    filter_horizontal = ("attendees",)
    inlines = [FactorInline, LearningInline]


@admin.register(Perspective)
class PerspectiveAdmin(admin.ModelAdmin):
    list_display = ("author", "review", "version", "updated_at")
    raw_id_fields = ("review", "author")


@admin.register(FactorSuggestion)
class FactorSuggestionAdmin(admin.ModelAdmin):
    list_display = ("description", "kind", "suggested_by", "review")
    list_filter = ("kind",)
    raw_id_fields = ("review", "suggested_by")


@admin.register(ContributingFactor)
class ContributingFactorAdmin(admin.ModelAdmin):
    list_display = ("description", "kind", "review")
    list_filter = ("kind",)
    raw_id_fields = ("review", "created_by")


@admin.register(Learning)
class LearningAdmin(admin.ModelAdmin):
    list_display = ("description", "rank", "review")
    raw_id_fields = ("review", "created_by")


@admin.register(ImprovementAction)
class ImprovementActionAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "kind",
        "priority",
        "status",
        "sync_state",
        "external_key",
        "raised_at",
        "done_at",
    )
    list_filter = ("status", "sync_state", "kind", "priority", "tracker")
    search_fields = ("title", "external_key")
    raw_id_fields = ("incident", "review", "owner", "raised_by")
    readonly_fields = ("uuid", "sync_attempts", "sync_requested_at", "synced_at")


@admin.register(NarrativeTemplate)
class NarrativeTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default", "updated_at")


class RevisionInline(admin.TabularInline):
    model = NarrativeRevision
    extra = 0
    readonly_fields = ("version", "title", "created_by", "created_at")
    fields = readonly_fields
    can_delete = False


@admin.register(Narrative)
class NarrativeAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "version", "publication", "published_at")
    list_filter = ("status",)
    search_fields = ("title",)
    raw_id_fields = ("incident", "created_by", "published_by")
    readonly_fields = ("version", "publication")
    inlines = [RevisionInline]


@admin.register(NarrativeRevision)
class NarrativeRevisionAdmin(admin.ModelAdmin):
    list_display = ("narrative", "version", "created_by", "created_at")
    raw_id_fields = ("narrative", "created_by")


@admin.register(NarrativeRead)
class NarrativeReadAdmin(admin.ModelAdmin):
    list_display = ("narrative", "reader", "first_read_at")
    raw_id_fields = ("narrative", "reader")


@admin.register(Walkthrough)
class WalkthroughAdmin(admin.ModelAdmin):
    list_display = ("narrative", "scheduled_at", "status", "presenter")
    raw_id_fields = ("narrative", "presenter")
    filter_horizontal = ("attendees",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("narrative", "publication", "channel", "recipient", "state", "attempts", "delivered_at")
    list_filter = ("channel", "state")
    search_fields = ("recipient",)
    raw_id_fields = ("narrative",)


@admin.register(Training)
class TrainingAdmin(admin.ModelAdmin):
    list_display = ("held_on", "kind", "team", "trainer", "duration_minutes")
    list_filter = ("kind", "team")
    raw_id_fields = ("trainer", "attendees", "recorded_by")
