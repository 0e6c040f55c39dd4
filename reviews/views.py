"""HTML views for reviews, improvement actions, narratives and walkthroughs (thin)."""

import difflib
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.access import access_incident, can_manage_incident, can_manage_team
from incidents.forms import add_service_errors
from incidents.models import AnalysisSession
from incidents.selectors import incident_timeline
from incidents.services import StaleVersion
from reviews import selectors
from reviews.access import (
    access_action,
    access_narrative,
    access_review,
    access_walkthrough,
    can_facilitate,
    can_publish_narrative,
    in_narrative_team,
)
from reviews.forms import (
    ActionFilterForm,
    ActionForm,
    FactorForm,
    InsightsFilterForm,
    LearningForm,
    LibraryFilterForm,
    NarrativeForm,
    NotesForm,
    ReviewForm,
    WalkthroughForm,
)
from reviews.insights import insights_for
from reviews.models import (
    ContributingFactor,
    ImprovementAction,
    Learning,
    Narrative,
    NarrativeRevision,
    Review,
)
from reviews.services import narrative as narrative_services
from reviews.services import review as review_services
from reviews.services.actions import action_raise, action_set_status
from ybiyri.views import call_reporting, page_of

NARRATIVES_PER_PAGE = 20
ACTIONS_PER_PAGE = 50


def meeting_arguments(data: dict) -> dict:
    return {
        "scheduled_at": data["scheduled_at"],
        "time_zone": data["time_zone"],
        "duration_minutes": data["duration_minutes"],
        "location": data["location"],
    }


@require_http_methods(["GET", "POST"])
def review_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    existing = Review.objects.filter(incident=incident).exclude(status=Review.Status.CANCELLED).first()
    if existing:
        return redirect("reviews:edit", existing.pk)
    initial = {"facilitator": request.user, "attendees": review_services.default_attendees(incident)}
    form = ReviewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            review = review_services.review_schedule(
                incident=incident,
                by=request.user,
                facilitator=data["facilitator"],
                attendees=list(data["attendees"]) or review_services.default_attendees(incident),
                video_url=data["video_url"],
                **meeting_arguments(data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Review scheduled; calendar invites are on their way.")
            return redirect(review)
    unsubmitted = incident.analyses.exclude(status=AnalysisSession.Status.SUBMITTED).select_related("analyst")
    context = {"incident": incident, "form": form, "unsubmitted": unsubmitted, "scheduling": True}
    return render(request, "reviews/review_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def review_edit(request: HttpRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    initial = {
        "scheduled_at": review.scheduled_at,
        "time_zone": review.time_zone,
        "duration_minutes": review.duration_minutes,
        "location": review.location,
        "video_url": review.video_url,
        "facilitator": review.facilitator,
        "attendees": list(review.attendees.all()),
    }
    form = ReviewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            review_services.review_reschedule(
                review=review,
                by=request.user,
                facilitator=data["facilitator"],
                attendees=list(data["attendees"]),
                video_url=data["video_url"],
                **meeting_arguments(data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Review updated; attendees receive the updated invite.")
            return redirect(review)
    incident = review.incident
    unsubmitted = incident.analyses.exclude(status=AnalysisSession.Status.SUBMITTED).select_related("analyst")
    context = {"incident": incident, "review": review, "form": form, "unsubmitted": unsubmitted}
    return render(request, "reviews/review_form.html", context, status=400 if form.errors else 200)


@require_POST
def review_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    call_reporting(
        request,
        review_services.review_cancel,
        review=review,
        by=request.user,
        success="Review cancelled; attendees receive a cancellation.",
    )
    return redirect(review.incident)


def facilitation_context(request: HttpRequest, review: Review, **forms) -> dict:
    review = selectors.review_detail(review=review)
    defaults = {
        "notes_form": NotesForm(
            initial={"context_notes": review.context_notes, "perspectives_notes": review.perspectives_notes}
        ),
        "factor_form": FactorForm(),
        "learning_form": LearningForm(),
        "action_form": ActionForm(),
    }
    return {
        "review": review,
        "incident": review.incident,
        "analyses": selectors.review_submitted_analyses(review=review),
        "timeline": incident_timeline(incident=review.incident),
        "steps": [(step, label, review.step_done(step)) for step, label in Review.Step.choices],
        "can_facilitate": can_facilitate(request.user, review.incident),
        "narrative": Narrative.objects.filter(incident=review.incident).first(),
        **defaults,
        **forms,
    }


@require_GET
def review_facilitate(request: HttpRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk)
    return render(request, "reviews/review_facilitate.html", facilitation_context(request, review))


def facilitation_response(
    request: HttpRequest, review: Review, *, anchor: str, error_forms: dict
) -> HttpResponse:
    """Back to the facilitation page: a redirect after success, the page with errors (400) otherwise."""
    if error_forms:
        context = facilitation_context(request, review, **error_forms)
        return render(request, "reviews/review_facilitate.html", context, status=400)
    return redirect(f"{review.get_absolute_url()}#{anchor}")


@require_POST
def review_step(request: HttpRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    try:
        review_services.review_step_set(
            review=review,
            by=request.user,
            step=request.POST.get("step", ""),
            done=request.POST.get("done") == "1",
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(f"{review.get_absolute_url()}#step-{request.POST.get('step', '')}")


def facilitation_post(
    request: HttpRequest, pk: int, *, form_class, form_name: str, anchor: str, service, success: str = ""
) -> HttpResponse:
    """A facilitation form posted: `service(review=…, by=…, **cleaned_data)`, back to the page.

    Bad input re-renders the page with the form's errors and what was typed (400).
    """
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            service(review=review, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if success:
                messages.success(request, success)
    return facilitation_response(
        request, review, anchor=anchor, error_forms={form_name: form} if form.errors else {}
    )


@require_POST
def review_notes(request: HttpRequest, pk: int) -> HttpResponse:
    return facilitation_post(
        request, pk, form_class=NotesForm, form_name="notes_form", anchor="step-context",
        service=review_services.review_update_notes, success="Notes saved.",
    )  # fmt: skip


@require_POST
def review_held(request: HttpRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    call_reporting(
        request,
        review_services.review_mark_held,
        review=review,
        by=request.user,
        success="Review marked as held. Next: draft the narrative.",
    )
    return redirect(review)


@require_POST
def factor_add(request: HttpRequest, pk: int) -> HttpResponse:
    return facilitation_post(
        request, pk, form_class=FactorForm, form_name="factor_form", anchor="step-factors",
        service=review_services.factor_add,
    )  # fmt: skip


@require_POST
def factor_delete(request: HttpRequest, pk: int, factor_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    factor = get_object_or_404(ContributingFactor, pk=factor_id, review=review)
    call_reporting(request, review_services.factor_delete, factor=factor, by=request.user)
    return redirect(f"{review.get_absolute_url()}#step-factors")


@require_POST
def learning_add(request: HttpRequest, pk: int) -> HttpResponse:
    return facilitation_post(
        request, pk, form_class=LearningForm, form_name="learning_form", anchor="step-learnings",
        service=review_services.learning_add,
    )  # fmt: skip


@require_POST
def learning_move(request: HttpRequest, pk: int, learning_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    learning = get_object_or_404(Learning, pk=learning_id, review=review)
    direction = request.POST.get("direction")
    if direction not in {"up", "down"}:
        messages.error(request, "Move a learning up or down.")
    else:
        try:
            review_services.learning_move(
                learning=learning, by=request.user, offset=-1 if direction == "up" else 1
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    if request.htmx:
        return render(request, "reviews/_learnings.html", facilitation_context(request, review))
    return redirect(f"{review.get_absolute_url()}#step-learnings")


@require_POST
def learning_delete(request: HttpRequest, pk: int, learning_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    learning = get_object_or_404(Learning, pk=learning_id, review=review)
    call_reporting(request, review_services.learning_delete, learning=learning, by=request.user)
    return redirect(f"{review.get_absolute_url()}#step-learnings")


def action_raise_in_review(*, review: Review, by, **fields) -> None:
    action_raise(incident=review.incident, review=review, by=by, **fields)


@require_POST
def action_add(request: HttpRequest, pk: int) -> HttpResponse:
    return facilitation_post(
        request, pk, form_class=ActionForm, form_name="action_form", anchor="step-learnings",
        service=action_raise_in_review, success="Improvement action raised.",
    )  # fmt: skip


@require_POST
def action_status(request: HttpRequest, pk: int) -> HttpResponse:
    action = access_action(user=request.user, action_id=pk, for_edit=True)
    status = request.POST.get("status", "")
    call_reporting(
        request,
        action_set_status,
        action=action,
        by=request.user,
        status=status,
        success=f"“{action.title}” is now {dict(ImprovementAction.Status.choices).get(status, status).lower()}.",
    )
    return redirect_back(request, fallback=action.incident.get_absolute_url())


def redirect_back(request: HttpRequest, *, fallback: str) -> HttpResponse:
    """Redirect to the posted `next` if it is a safe local URL, else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


@require_GET
def action_backlog(request: HttpRequest) -> HttpResponse:
    filters = ActionFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    team, owner = criteria.get("team"), criteria.get("owner")
    actions = selectors.action_backlog(
        viewer=request.user,
        team_id=team.pk if team else None,
        status=criteria.get("status", ""),
        priority=criteria.get("priority", ""),
        owner_id=owner.pk if owner else None,
        ordering=criteria.get("sort") or "-raised_at",
    )
    page, query_string = page_of(request, actions, ACTIONS_PER_PAGE)
    managed = {
        action.pk for action in page.object_list if can_manage_team(request.user, action.incident.team_id)
    }
    context = {"filters": filters, "page": page, "query_string": query_string, "editable_ids": managed}
    return render(request, "reviews/action_list.html", context)


@require_POST
def narrative_draft(request: HttpRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk)
    if not in_narrative_team(request.user, incident):
        raise PermissionDenied("Only the incident's team can draft its narrative.")
    try:
        narrative = narrative_services.narrative_draft(incident=incident, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        existing = Narrative.objects.filter(incident=incident).first()
        return redirect("reviews:narrative_edit", existing.pk) if existing else redirect(incident)
    messages.success(request, "Draft created from the narrative template: now tell the story.")
    return redirect("reviews:narrative_edit", narrative.pk)


@require_GET
def narrative_detail(request: HttpRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk)
    narrative_services.narrative_record_read(narrative=narrative, reader=request.user)
    team_view = in_narrative_team(request.user, narrative.incident)
    context = {
        "narrative": narrative,
        "incident": narrative.incident,
        "themes": selectors.narrative_themes(narrative=narrative),
        "related": selectors.narrative_related(narrative=narrative, viewer=request.user),
        "read_count": narrative.reads.count(),
        "readers": selectors.narrative_readers(narrative=narrative),
        "walkthroughs": selectors.narrative_walkthroughs(narrative=narrative),
        "team_view": team_view,
        "can_publish": can_publish_narrative(request.user, narrative),
    }
    if team_view and narrative.is_published:
        from reviews.broadcast.selectors import broadcast_progress

        context["broadcast"] = broadcast_progress(narrative=narrative)
    return render(request, "reviews/narrative_detail.html", context)


@require_http_methods(["GET", "POST"])
def narrative_edit(request: HttpRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk, for_edit=True)
    form = NarrativeForm(
        request.POST or None,
        initial={"version": narrative.version, "title": narrative.title, "body": narrative.body},
    )
    conflict, status = None, 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                narrative_services.narrative_save(narrative=narrative, by=request.user, **form.cleaned_data)
            except StaleVersion as stale:
                narrative.refresh_from_db()
                conflict = {"message": str(stale), "current_body": narrative.body}
                form = NarrativeForm({**request.POST.dict(), "version": stale.current_version})
                form.is_valid()
                status = 409
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, "Narrative saved as a new revision.")
                return redirect(narrative)
    context = {"narrative": narrative, "incident": narrative.incident, "form": form, "conflict": conflict}
    return render(request, "reviews/narrative_edit.html", context, status=status)


@require_POST
def narrative_publish(request: HttpRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk, for_publish=True)
    rebroadcast = narrative.is_published
    try:
        narrative_services.narrative_publish(narrative=narrative, by=request.user, broadcast=True)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            "Broadcast again to the organisation."
            if rebroadcast
            else "Published: the organisation is being told.",
        )
    return redirect(narrative)


@require_GET
def narrative_revisions(request: HttpRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk, for_edit=True)
    revisions = list(narrative.revisions.select_related("created_by").order_by("-version"))
    diff = None
    if request.GET.get("a") and request.GET.get("b"):
        try:
            versions = int(request.GET["a"]), int(request.GET["b"])
        except ValueError:
            raise Http404("No such revision") from None
        by_version = {revision.version: revision for revision in revisions}
        if any(version not in by_version for version in versions):
            raise Http404("No such revision")
        older, newer = (by_version[version] for version in sorted(versions))
        diff = {"older": older, "newer": newer, "lines": revision_diff(older, newer)}
    context = {"narrative": narrative, "revisions": revisions, "diff": diff}
    return render(request, "reviews/narrative_revisions.html", context)


def revision_diff(older: NarrativeRevision, newer: NarrativeRevision) -> list[tuple[str, str]]:
    """Line diff of two revisions as (kind, text): kind is "same", "added" or "removed"."""
    lines = []
    old_text = f"# {older.title}\n\n{older.body}".splitlines()
    new_text = f"# {newer.title}\n\n{newer.body}".splitlines()
    for line in difflib.ndiff(old_text, new_text):
        code, text = line[:2], line[2:]
        if code == "? ":
            continue
        lines.append(({"  ": "same", "+ ": "added", "- ": "removed"}[code], text))
    return lines


@require_GET
def narrative_library(request: HttpRequest) -> HttpResponse:
    filters = LibraryFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    narratives = selectors.narrative_library(
        viewer=request.user,
        query=criteria.get("q", ""),
        team_id=criteria.get("team") or None,
        service_id=criteria.get("service") or None,
        severity=criteria.get("severity", ""),
        theme_id=criteria.get("theme") or None,
    )
    page, query_string = page_of(request, narratives, NARRATIVES_PER_PAGE)
    context = {
        "filters": filters,
        "page": page,
        "query_string": query_string,
        "query": criteria.get("q", ""),
    }
    template = "reviews/_narrative_results.html" if request.htmx else "reviews/narrative_library.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def walkthrough_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk)
    if not (
        can_publish_narrative(request.user, narrative)
        or can_manage_incident(request.user, narrative.incident)
    ):
        raise PermissionDenied(
            "Only the facilitator and the team's product managers can schedule walkthroughs."
        )
    form = WalkthroughForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            narrative_services.walkthrough_schedule(
                narrative=narrative,
                by=request.user,
                audience_email=data["audience_email"],
                attendees=list(data["attendees"]),
                **meeting_arguments(data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Walkthrough scheduled; invites are on their way.")
            return redirect(narrative)
    context = {"narrative": narrative, "form": form}
    return render(request, "reviews/walkthrough_form.html", context, status=400 if form.errors else 200)


@require_POST
def walkthrough_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    walkthrough = access_walkthrough(user=request.user, walkthrough_id=pk, for_manage=True)
    call_reporting(
        request,
        narrative_services.walkthrough_cancel,
        walkthrough=walkthrough,
        by=request.user,
        success="Walkthrough cancelled.",
    )
    return redirect(walkthrough.narrative)


@require_GET
def insights(request: HttpRequest) -> HttpResponse:
    filters = InsightsFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    days = int(criteria.get("days") or 180)
    team = criteria.get("team")
    figures = insights_for(
        viewer=request.user, since=timezone.now() - timedelta(days=days), team_id=team.pk if team else None
    )
    return render(request, "reviews/insights.html", {"filters": filters, "insights": figures, "days": days})
