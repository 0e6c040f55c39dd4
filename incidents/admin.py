from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest

from incidents.evidence.pagers import check_pager_mapping_free
from incidents.models import (
    AnalysisSession,
    AuditEntry,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Notification,
    ReportGuide,
    Responder,
    Service,
    Team,
    User,
)


@admin.register(User)
class YbiyriUserAdmin(UserAdmin):
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "is_problem_manager",
        "is_staff",
        "is_active",
    )
    list_filter = ("is_problem_manager", "is_staff", "is_active", "broadcast_opt_out")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("ybiyri", {"fields": ("is_problem_manager", "broadcast_opt_out")}),
    )


class ServiceAdminForm(forms.ModelForm):
    """Refuses a pager mapping that another service holds, as the services page does."""

    # ModelForm's private step that fills the instance and validates it; the stubs leave it and
    # _update_errors out.
    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if not self.errors:
            try:
                check_pager_mapping_free(self.instance)
            except ValidationError as error:
                self._update_errors(error)  # type: ignore[attr-defined]


class ServiceInline(admin.TabularInline):
    model = Service
    form = ServiceAdminForm
    fk_name = "team"
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "tracker", "jira_project_key", "trello_list_id")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members", "product_managers")
    inlines = [ServiceInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceAdminForm
    list_display = ("name", "team", "operating_model")
    list_filter = ("operating_model", "team")
    search_fields = ("name",)


class ResponderInline(admin.TabularInline):
    model = Responder
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("title", "severity", "status", "team", "service", "started_at", "confidential")
    list_filter = ("severity", "status", "confidential", "team")
    search_fields = ("title", "summary")
    date_hierarchy = "started_at"
    list_select_related = ("team", "service")
    raw_id_fields = ("declared_by",)
    inlines = [ResponderInline]


class InterviewInline(admin.StackedInline):
    model = Interview
    extra = 0


@admin.register(AnalysisSession)
class AnalysisSessionAdmin(admin.ModelAdmin):
    list_display = ("incident", "analyst", "status", "allocated_minutes", "time_spent_minutes", "due_at")
    list_filter = ("status",)
    list_select_related = ("incident", "analyst")
    raw_id_fields = ("incident", "responder", "analyst", "scheduled_by")
    filter_horizontal = ("themes",)
    inlines = [InterviewInline]


@admin.register(KeyEvent)
class KeyEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "description", "incident")
    raw_id_fields = ("analysis", "incident")
    list_select_related = ("incident",)


@admin.register(Interview)
class InterviewAdmin(admin.ModelAdmin):
    list_display = ("interviewee", "held_at", "analysis")
    raw_id_fields = ("analysis",)


@admin.register(LearningTheme)
class LearningThemeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Responder)
class ResponderAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "incident")
    raw_id_fields = ("incident", "user")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("subject", "to_email", "state", "attempts", "created_at", "sent_at")
    list_filter = ("state",)
    search_fields = ("to_email", "subject", "key")
    readonly_fields = ("key", "created_at", "claimed_at", "sent_at")
    raw_id_fields = ("recipient",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "verb", "target_type", "target_repr")
    list_filter = ("verb", "target_type")
    search_fields = ("target_repr", "actor__username")
    list_select_related = ("actor",)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(ReportGuide)
class ReportGuideAdmin(admin.ModelAdmin):
    """The organisation's one set of guiding prompts: edited, never added twice or deleted."""

    fields = ("prompts", "updated_at")
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ReportGuide.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# Evidence has its own admin module in its package; importing it registers it.
from incidents.evidence import admin as evidence_admin  # noqa: E402, F401
