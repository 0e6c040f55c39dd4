"""HTML views for incidents and analyses: parse, call one service or selector, render."""

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Page
from django.db.models import Model
from django.forms import Form
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import selectors, services
from incidents.access import (
    access_analysis,
    access_analysis_to_manage,
    access_incident,
    can_manage_incident,
    can_read_analysis,
    managed_teams,
    may_declare,
    viewer_key,
)
from incidents.forms import (
    AllocationForm,
    AnalysisForm,
    DeclareIncidentForm,
    IncidentFilterForm,
    IncidentForm,
    InterviewForm,
    KeyEventForm,
    PreferencesForm,
    ResponderForm,
    ResponderRoleForm,
    add_service_errors,
)
from incidents.models import AnalysisSession, Incident, Interview, KeyEvent, ReportGuide, Responder
from reviews.caches import INCIDENT_LIST, INCIDENT_PAGES, KEY_EVENTS, MY_WORK
from reviews.markdown import render_markdown
from reviews.selectors import narratives_recent, reviews_upcoming
from ybiyri.request_types import SignedInRequest
from ybiyri.views import (
    CountedPaginator,
    cached_filters,
    cached_fragment,
    call_reporting,
    for_template,
    fragment_with_errors,
    page_of,
    personal_fragment,
    render_fragment,
    understood_filters,
)

INCIDENTS_PER_PAGE = 25
TIMELINE_PER_PAGE = 50
PERSON_TERM_MAX_LENGTH = 254


@require_GET
def my_work(request: SignedInRequest) -> HttpResponse:
    user = request.user

    def work() -> dict[str, Any]:
        return {
            "analyses": selectors.my_analyses(user=user),
            "awaiting_allocation": selectors.incidents_awaiting_allocation(user=user)[:20],
            "awaiting_review": selectors.incidents_awaiting_review(user=user)[:20],
            "upcoming_reviews": reviews_upcoming(user=user)[:10],
            "new_narratives": narratives_recent(viewer=user)[:5],
            "manages_a_team": may_declare(user),
        }

    html = personal_fragment(request, MY_WORK, "work", "incidents/_my_work.html", work)
    return render(request, "incidents/my_work.html", {"work": html})


@require_GET
def incident_list(request: SignedInRequest) -> HttpResponse:
    filters = IncidentFilterForm(request.GET or None, teams=selectors.teams_for_filter(viewer=request.user))
    criteria = understood_filters(request, filters)
    team = criteria.get("team")
    chosen = {
        "team_id": team.pk if team else None,
        "severity": criteria.get("severity", ""),
        "status": criteria.get("status", ""),
        "query": criteria.get("q", ""),
    }

    def rows() -> str:
        page, query_string = page_of(
            request,
            selectors.incident_list(viewer=request.user, **chosen),
            INCIDENTS_PER_PAGE,
            count=lambda: selectors.incident_list_count(viewer=request.user, **chosen),
        )
        return render_fragment("incidents/_incident_rows.html", {"page": page, "query_string": query_string})

    html = cached_fragment(request, INCIDENT_LIST, "rows", viewer=viewer_key(request.user), build=rows)
    if request.htmx:
        return HttpResponse(html)
    context = {
        "filter_fields": cached_filters(request, INCIDENT_LIST, filters, viewer=viewer_key(request.user)),
        "rows": html,
        "can_declare": may_declare(request.user),
    }
    return render(request, "incidents/incident_list.html", context)


@require_http_methods(["GET", "POST"])
def incident_declare(request: SignedInRequest) -> HttpResponse:
    teams = managed_teams(request.user)
    if not teams.exists():
        raise PermissionDenied("Only product managers and problem managers can declare incidents.")
    form = DeclareIncidentForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.incident_declare(
                by=request.user,
                team=data["team"],
                service=data["service"],
                title=data["title"],
                summary=data["summary"],
                severity=data["severity"],
                started_at=data["started_at"],
                detected_at=data["detected_at"],
                mitigated_at=data["mitigated_at"],
                resolved_at=data["resolved_at"],
                confidential=data["confidential"],
                responders=[(user, "") for user in data["responders"]],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Incident declared. Next: add roles and allocate analysis time.")
            return redirect(incident)
    context = {"form": form, "declaring": True}
    return render(request, "incidents/incident_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def incident_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    fields: tuple[str, ...] = ("title", "summary", "severity", "team", "service", "started_at", "detected_at")
    fields += ("mitigated_at", "resolved_at", "confidential")
    initial = {name: getattr(incident, name) for name in fields}
    form = IncidentForm(request.POST or None, initial=initial, teams=managed_teams(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_update(
                incident=incident, by=request.user, changes=cast(services.IncidentFields, form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Incident updated.")
            return redirect(incident)
    context = {"form": form, "incident": incident}
    return render(request, "incidents/incident_form.html", context, status=400 if form.errors else 200)


def responders_context(
    request: SignedInRequest, incident: Incident, *, invalid_role: tuple[int, ResponderRoleForm] | None = None
) -> dict[str, Any]:
    """The responders card: each responder with their analysis and, for managers, their role form
    (`invalid_role`, a (responder id, form) just refused, keeps what was typed and its error)."""
    can_manage = can_manage_incident(request.user, incident)
    responders = list(selectors.incident_responders(incident=incident))
    for responder in responders:
        analysis = getattr(responder, "analysis", None)
        if analysis is not None:
            analysis.incident = incident
            for_template(responder, analysis_readable=can_read_analysis(request.user, analysis))
        if can_manage:
            role_form = ResponderRoleForm(
                prefix=f"responder-{responder.pk}", initial={"role": responder.role}
            )
            if invalid_role is not None and invalid_role[0] == responder.pk:
                role_form = invalid_role[1]
            for_template(responder, role_form=role_form)
    return {
        "incident": incident,
        "responders": responders,
        "can_manage": can_manage,
        "responder_form": ResponderForm(),
    }


@require_GET
def incident_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk)

    def context() -> dict[str, Any]:
        return {**incident_context(request, incident), "user": request.user}

    html = personal_fragment(
        request, INCIDENT_PAGES, f"incident-{incident.pk}", "incidents/_incident_page.html", context
    )
    return incident_page(request, incident, html)


def incident_page(
    request: SignedInRequest, incident: Incident, page: str, *, status: int = 200
) -> HttpResponse:
    """The incident's page around its content (`incidents/_incident_page.html`, rendered)."""
    return render(
        request, "incidents/incident_detail.html", {"incident": incident, "page": page}, status=status
    )


def incident_context(request: SignedInRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    context = responders_context(request, incident, **extra)
    outcomes = selectors.incident_outcomes(incident=incident)
    context.update(
        {
            "timeline": timeline_block(request, incident, empty="No key events established yet."),
            "themes": selectors.incident_themes(incident=incident),
            "review": getattr_or_none(outcomes, "review"),
            "narrative": getattr_or_none(outcomes, "narrative"),
            "allocated": any(getattr(responder, "analysis", None) for responder in context["responders"]),
        }
    )
    return context


@dataclass(frozen=True)
class TimelineRow:
    """One key event of the merged timeline as its row shows it, worked out once in Python."""

    occurred_iso: str
    occurred_label: str
    description: str
    evidence_url: str
    analyst_name: str


def timeline_page(
    request: SignedInRequest, incident: Incident, sources: selectors.TimelineSources | None = None
) -> Page:
    """One page of the merged timeline: incidents with a thousand key events stay fast to open.
    `sources`, the analyses it shows, when the caller has read them already."""
    if sources is None:
        sources = selectors.timeline_sources(incident=incident, viewer=request.user)
    analysts = sources.analysts
    events = selectors.timeline_events(incident=incident, analysis_ids=list(analysts))
    paginator = CountedPaginator(events, TIMELINE_PER_PAGE, sources.event_count)
    page = paginator.get_page(request.GET.get("timeline_page"))
    rows = []
    for event in page.object_list:
        occurred_at = timezone.localtime(event.occurred_at)
        rows.append(
            TimelineRow(
                occurred_iso=occurred_at.isoformat(),
                occurred_label=dateformat.format(occurred_at, "j M H:i"),
                description=event.description,
                evidence_url=event.evidence_url,
                analyst_name=analysts[event.analysis_id],
            )
        )
    return Page(rows, page.number, page.paginator)


def timeline_block(
    request: SignedInRequest,
    incident: Incident,
    *,
    empty: str,
    sources: selectors.TimelineSources | None = None,
    timeline_url: str = "",
) -> SafeString:
    """The first page of the merged timeline with its count (or `empty` when it has no event), from
    the key events' cache while no analysis, key event or visibility has changed: whose analyses
    it shows depends on the viewer. `sources`, when the caller has read the analyses; the next
    pages' links lead back to `timeline_url`, or to the incident."""

    def build() -> str:
        page = timeline_page(request, incident, sources)
        context = {"incident": incident, "timeline": page, "timeline_url": timeline_url, "empty": empty}
        return render_fragment("incidents/_timeline.html", context)

    name = f"timeline-{incident.pk}-{timeline_url or 'incident'}"
    return cached_fragment(request, KEY_EVENTS, name, viewer=viewer_key(request.user), build=build)


@require_GET
def incident_timeline(request: SignedInRequest, pk: int) -> HttpResponse:
    """The next page of the timeline, appended in place by htmx."""
    incident = access_incident(user=request.user, incident_id=pk)
    context = {"incident": incident, "timeline": timeline_page(request, incident)}
    return render(request, "incidents/_timeline_events.html", context)


def getattr_or_none(instance: Model, name: str) -> Any:
    """A reverse one-to-one relation, or None when there is no related row yet."""
    try:
        return getattr(instance, name)
    except ObjectDoesNotExist:
        return None


@require_POST
def responder_add(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    form = ResponderForm(request.POST)
    if form.is_valid():
        try:
            services.responder_add(incident=incident, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['user'].display_name} added as a responder.")
            return redirect(incident)
    return render(request, "incidents/responder_form.html", {"incident": incident, "form": form}, status=400)


@require_POST
def responder_role(request: SignedInRequest, pk: int, responder_id: int) -> HttpResponse:
    """Set or change a responder's role in place (htmx: the responders card), or by a plain post."""
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    responder = get_object_or_404(
        Responder.objects.select_related("user"), pk=responder_id, incident=incident
    )
    form = ResponderRoleForm(request.POST, prefix=f"responder-{responder.pk}")
    status = 400
    if form.is_valid():
        try:
            services.responder_set_role(responder=responder, by=request.user, role=form.cleaned_data["role"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, f"Role of {responder.user.display_name} saved.")
                return redirect(incident)
            status = 200
    invalid_role = (responder.pk, form) if status >= 400 else None
    if not request.htmx:
        context = incident_context(request, incident, invalid_role=invalid_role)
        page = fragment_with_errors(request, "incidents/_incident_page.html", context)
        return incident_page(request, incident, page, status=status)
    context = responders_context(request, incident, invalid_role=invalid_role)
    if status == 200:
        context["announce"] = f"Role of {responder.user.display_name} saved."
    return render(request, "incidents/_responders.html", context, status=status)


@require_POST
def responder_remove(request: SignedInRequest, pk: int, responder_id: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    responder = get_object_or_404(Responder, pk=responder_id, incident=incident)
    call_reporting(
        request,
        services.responder_remove,
        responder=responder,
        by=request.user,
        success=f"{responder.user.display_name} removed from the responders.",
    )
    return redirect(incident)


@require_http_methods(["GET", "POST"])
def analysis_allocate(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    # A draft from the pager goes back to its page, saying why; a post reaches the service, which refuses it.
    if request.method == "GET" and not call_reporting(
        request, services.check_incident_confirmed, incident=incident
    ):
        return redirect(incident)
    responders = list(selectors.incident_responders(incident=incident))
    form = AllocationForm(request.POST or None, responders=responders)
    if request.method == "POST" and form.is_valid():
        allocations = [
            services.Allocation(responder=responder, allocated_minutes=minutes, due_at=due)
            for responder, minutes, due in form.cleaned_data["chosen"]
        ]
        try:
            sessions = services.analysis_allocate(incident=incident, by=request.user, allocations=allocations)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            count = len(sessions)
            messages.success(
                request,
                f"{count} analysis session{pluralize(count)} allocated; invites are on their way.",
            )
            return redirect(incident)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "incidents/analysis_allocate.html", {"incident": incident, "form": form}, status=status
    )


def analysis_context(
    analysis: AnalysisSession,
    *,
    invalid_edit: tuple[KeyEvent | Interview, KeyEventForm | InterviewForm] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The analysis page's context; with `editable`, every key event and interview carries its edit
    form (`invalid_edit`, the one that was just refused with its errors, replaces its own)."""
    detail = selectors.analysis_detail(analysis_id=analysis.pk)
    if extra.get("editable"):
        for event in detail.key_events.all():
            for_template(event, edit_form=KeyEventForm.editing(event))
        for interview in detail.interviews.all():
            for_template(interview, edit_form=InterviewForm.editing(interview))
        if invalid_edit is not None:
            item, form = invalid_edit
            for candidate in [*detail.key_events.all(), *detail.interviews.all()]:
                if type(candidate) is type(item) and candidate.pk == item.pk:
                    for_template(candidate, edit_form=form)
    return {
        "analysis": detail,
        "incident": detail.incident,
        # The organisation's guide, or its default prompts until someone edits it in the admin.
        "guide": ReportGuide.objects.first() or ReportGuide(),
        "interview_form": InterviewForm(),
        "key_event_form": KeyEventForm(),
        **extra,
    }


def report_diff(saved: str, yours: str) -> list[tuple[str, str]]:
    """Line diff of the saved report against the person's text: (kind, line), kind "same",
    "added" (only in theirs) or "removed" (only in the saved one)."""
    lines = []
    for line in difflib.ndiff(saved.splitlines(), yours.splitlines()):
        code, text = line[:2], line[2:]
        if code != "? ":
            lines.append(({"  ": "same", "+ ": "added", "- ": "removed"}[code], text))
    return lines


def analysis_form_themes(request: SignedInRequest, form: AnalysisForm) -> list:
    return list(form.cleaned_data["themes"]) + [
        services.theme_get_or_create(name=name, by=request.user) for name in form.new_theme_names()
    ]


@require_http_methods(["GET", "POST"])
def analysis_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    """The analyst's one form: Save keeps it open; Save and submit saves what was typed, then submits."""
    analysis = access_analysis(user=request.user, analysis_id=pk)
    editable = analysis.analyst_id == request.user.pk and not analysis.is_submitted
    if request.method == "POST" and not editable:
        raise PermissionDenied("Only the analyst can edit an analysis, and only until it is submitted.")
    initial = {
        "version": analysis.version,
        "report": analysis.report,
        "time_spent_minutes": analysis.time_spent_minutes,
        "themes": list(analysis.themes.all()),
    }
    form = AnalysisForm(request.POST or None, initial=initial, allocated_minutes=analysis.allocated_minutes)
    conflict = None
    status = 200
    if request.method == "POST":
        submitting = request.POST.get("action") == "submit"
        if form.is_valid():
            data = form.cleaned_data
            save = services.analysis_save_and_submit if submitting else services.analysis_save
            try:
                save(
                    analysis=analysis,
                    by=request.user,
                    version=data["version"],
                    changes={
                        "report": data["report"],
                        "time_spent_minutes": data["time_spent_minutes"],
                        "themes": analysis_form_themes(request, form),
                    },
                )
            except services.StaleVersion as stale:
                analysis.refresh_from_db()
                conflict = {
                    "message": str(stale),
                    "diff": report_diff(analysis.report, data["report"]),
                    "kept": render_markdown(data["report"]),
                }
                # Keep what the person typed; the version moves on so their next save is a deliberate merge.
                form = AnalysisForm(
                    {
                        **request.POST.dict(),
                        "version": stale.current_version,
                        "themes": request.POST.getlist("themes"),
                    },
                    initial=initial,
                    allocated_minutes=analysis.allocated_minutes,
                )
                form.is_valid()
                status = 409
            except ValidationError as error:
                add_service_errors(form, error)
                status = 400
            else:
                if submitting:
                    messages.success(
                        request, "Analysis saved and submitted; the product manager has been told."
                    )
                else:
                    messages.success(request, "Analysis saved.")
                return redirect(analysis)
        else:
            status = 400
    context = analysis_context(analysis, form=form, editable=editable, conflict=conflict)
    return render(request, "incidents/analysis_edit.html", context, status=status)


@require_POST
def analysis_autosave(request: SignedInRequest, pk: int) -> JsonResponse:
    """Save the draft as it is typed: the same versioned save, answered in JSON for the page's script.

    A newer save elsewhere is never overwritten: the answer is 409 and the person keeps their text.
    New theme names are left for an explicit Save, so that half-typed names never enter the taxonomy.
    """
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    form = AnalysisForm(request.POST, allocated_minutes=analysis.allocated_minutes)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    data = form.cleaned_data
    try:
        saved = services.analysis_save(
            analysis=analysis,
            by=request.user,
            version=data["version"],
            changes={
                "report": data["report"],
                "time_spent_minutes": data["time_spent_minutes"],
                "themes": list(data["themes"]),
            },
        )
    except services.StaleVersion as stale:
        return JsonResponse({"message": str(stale), "current_version": stale.current_version}, status=409)
    except ValidationError as error:
        return JsonResponse({"errors": error.messages}, status=400)
    saved_at = timezone.localtime(saved.updated_at)
    return JsonResponse({"version": saved.version, "saved_at": saved_at.strftime("%H:%M")})


@require_POST
def analysis_submit(request: SignedInRequest, pk: int) -> HttpResponse:
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    call_reporting(
        request,
        services.analysis_submit,
        analysis=analysis,
        by=request.user,
        success="Analysis submitted; the product manager has been told.",
    )
    return redirect(analysis)


@require_POST
def analysis_waive(request: SignedInRequest, pk: int) -> HttpResponse:
    """Let the loop close without this analysis (the incident's managers), then back to where the
    form was (the narrative's publish panel), or the incident."""
    analysis = access_analysis_to_manage(user=request.user, analysis_id=pk)
    call_reporting(
        request,
        services.analysis_waive,
        analysis=analysis,
        by=request.user,
        reason=request.POST.get("reason", "")[:2000],
        success=f"{analysis.analyst.display_name}'s analysis waived: the loop may close without it.",
    )
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(analysis.incident)


def analysis_partial_response(
    request: SignedInRequest,
    analysis: AnalysisSession,
    template: str,
    form_name: str,
    form: Form,
    status: int,
    **extra: Any,
) -> HttpResponse:
    """After adding to, editing or deleting from an analysis: the list partial for htmx, else the page."""
    named_form: dict[str, Any] = {form_name: form}
    if request.htmx:
        context = analysis_context(analysis, editable=True, **named_form, **extra)
        return render(request, template, context, status=status)
    if status >= 400:
        context = analysis_context(
            analysis,
            editable=True,
            form=AnalysisForm(
                initial={
                    "version": analysis.version,
                    "report": analysis.report,
                    "time_spent_minutes": analysis.time_spent_minutes,
                    "themes": list(analysis.themes.all()),
                },
                allocated_minutes=analysis.allocated_minutes,
            ),
            **named_form,
            **extra,
        )
        return render(request, "incidents/analysis_edit.html", context, status=status)
    return redirect(analysis)


def analysis_item_add(
    request: SignedInRequest,
    pk: int,
    *,
    form_class: type[Form],
    service: Callable[..., object],
    template: str,
    form_name: str,
    added: str,
) -> HttpResponse:
    """Add an interview or a key event to the analyst's own analysis: `service(analysis=…, by=…, **data)`."""
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    form = form_class(request.POST)
    status, extra = 400, {}
    if form.is_valid():
        try:
            service(analysis=analysis, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            # The add form stays open, empty, with the focus on its first field for the next entry.
            form, status, extra = form_class(), 200, {"just_added": True, "announce": added}
    return analysis_partial_response(request, analysis, template, form_name, form, status, **extra)


@require_POST
def interview_add(request: SignedInRequest, pk: int) -> HttpResponse:
    return analysis_item_add(
        request, pk, form_class=InterviewForm, service=services.interview_add,
        template="incidents/_interviews.html", form_name="interview_form", added="Interview added.",
    )  # fmt: skip


def analysis_item_edit(
    request: SignedInRequest,
    item: KeyEvent | Interview,
    *,
    item_name: str,
    form_class: type[KeyEventForm] | type[InterviewForm],
    service: Callable[..., object],
    template: str,
    form_name: str,
    updated: str,
) -> HttpResponse:
    """Correct an interview or a key event in place: `service(<item_name>=item, by=…, **data)`."""
    analysis = item.analysis
    form = form_class(request.POST, prefix=form_class.prefix_for(item))
    if form.is_valid():
        try:
            service(**{item_name: item}, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return analysis_partial_response(
                request, analysis, template, form_name, form_class(), 200, announce=updated
            )
    return analysis_partial_response(
        request, analysis, template, form_name, form_class(), 400, invalid_edit=(item, form)
    )


@require_POST
def interview_edit(request: SignedInRequest, pk: int, interview_id: int) -> HttpResponse:
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    interview = get_object_or_404(Interview, pk=interview_id, analysis=analysis)
    return analysis_item_edit(
        request, interview, item_name="interview", form_class=InterviewForm, service=services.interview_update,
        template="incidents/_interviews.html", form_name="interview_form", updated="Interview updated.",
    )  # fmt: skip


@require_POST
def interview_delete(request: SignedInRequest, pk: int, interview_id: int) -> HttpResponse:
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    interview = get_object_or_404(Interview, pk=interview_id, analysis=analysis)
    call_reporting(request, services.interview_delete, interview=interview, by=request.user)
    return analysis_partial_response(
        request, analysis, "incidents/_interviews.html", "interview_form", InterviewForm(), 200,
        announce="Interview deleted.",
    )  # fmt: skip


@require_POST
def key_event_add(request: SignedInRequest, pk: int) -> HttpResponse:
    return analysis_item_add(
        request, pk, form_class=KeyEventForm, service=services.key_event_add,
        template="incidents/_key_events.html", form_name="key_event_form", added="Key event added.",
    )  # fmt: skip


@require_POST
def key_event_edit(request: SignedInRequest, pk: int, key_event_id: int) -> HttpResponse:
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    event = get_object_or_404(KeyEvent, pk=key_event_id, analysis=analysis)
    return analysis_item_edit(
        request, event, item_name="key_event", form_class=KeyEventForm, service=services.key_event_update,
        template="incidents/_key_events.html", form_name="key_event_form", updated="Key event updated.",
    )  # fmt: skip


@require_POST
def key_event_delete(request: SignedInRequest, pk: int, key_event_id: int) -> HttpResponse:
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    event = get_object_or_404(KeyEvent, pk=key_event_id, analysis=analysis)
    call_reporting(request, services.key_event_delete, key_event=event, by=request.user)
    return analysis_partial_response(
        request, analysis, "incidents/_key_events.html", "key_event_form", KeyEventForm(), 200,
        announce="Key event deleted.",
    )  # fmt: skip


@require_POST
def markdown_preview(request: SignedInRequest) -> HttpResponse:
    """The sanitised HTML of posted Markdown, for the editors' preview panes."""
    text = request.POST.get("report") or request.POST.get("body") or ""
    if len(text) > 200000:
        return HttpResponseBadRequest("Too long to preview (200,000 characters at most).")
    return render(request, "incidents/_markdown_preview.html", {"html": render_markdown(text)})


@require_http_methods(["GET", "POST"])
def account_settings(request: SignedInRequest) -> HttpResponse:
    form = PreferencesForm(
        request.POST or None, initial={"broadcast_opt_out": request.user.broadcast_opt_out}
    )
    if request.method == "POST":
        if "rotate_feed_token" in request.POST:
            services.user_rotate_feed_token(user=request.user)
            messages.success(
                request, "Your private feed address has been replaced; the old one no longer works."
            )
            return redirect("incidents:settings")
        if form.is_valid():
            services.user_update_preferences(
                user=request.user, broadcast_opt_out=form.cleaned_data["broadcast_opt_out"]
            )
            messages.success(request, "Preferences saved.")
            return redirect("incidents:settings")
    status = 400 if form.errors else 200
    return render(request, "incidents/account_settings.html", {"form": form}, status=status)


@require_GET
def people_search(request: SignedInRequest) -> HttpResponse:
    """Member suggestions for the member fields: options for the typed name (the last, after a comma)."""
    typed = request.GET.get("q") or next((request.GET[key] for key in request.GET if key != "q"), "")
    prefix, _, term = typed.rpartition(",")
    term = term.strip()
    # No one's name, username or email is longer: a longer term matches nobody, so spare the query.
    people = selectors.people_matching(term=term)[:10] if 0 < len(term) <= PERSON_TERM_MAX_LENGTH else []
    lead = f"{prefix.strip()}, " if prefix.strip() else ""
    return render(request, "incidents/_people_options.html", {"people": people, "lead": lead})
