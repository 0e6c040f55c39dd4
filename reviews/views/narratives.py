"""Narrative pages: drafting, editing, revisions, publishing, the library and walkthroughs."""

import difflib
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.access import viewer_key
from incidents.forms import add_service_errors
from incidents.services import StaleVersion
from reviews import selectors
from reviews.access import (
    access_incident_for_draft,
    access_narrative,
    access_walkthrough,
    can_manage_broadcast,
    can_override_loop,
    can_publish_narrative,
    can_schedule_walkthrough,
    in_narrative_team,
)
from reviews.caches import LIBRARY, NARRATIVE, READS
from reviews.forms import (
    BlendDecisionForm,
    LibraryFilterForm,
    NarrativeForm,
    PreparationForm,
    WalkthroughForm,
)
from reviews.models import Narrative, NarrativeRevision, Walkthrough
from reviews.services import narrative as narrative_services
from reviews.services.blend import blend_changes
from reviews.services.narrative import LoopOpen
from reviews.views.review import meeting_arguments
from ybiyri.request_types import SignedInRequest
from ybiyri.views import (
    cached_filters,
    cached_fragment,
    call_reporting,
    page_of,
    personal_fragment,
    render_fragment,
    understood_filters,
)

NARRATIVES_PER_PAGE = 20
# The library shows the most recently changed drafts its reader may see; the API lists them all.
DRAFTS_SHOWN = 10


@require_POST
def narrative_draft(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident_for_draft(user=request.user, incident_id=pk)
    try:
        narrative = narrative_services.narrative_draft(incident=incident, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        existing = Narrative.objects.filter(incident=incident).first()
        return redirect("reviews:narrative_edit", existing.pk) if existing else redirect(incident)
    messages.success(request, "Draft created from the narrative template: now tell the story.")
    return redirect("reviews:narrative_edit", narrative.pk)


@require_GET
def narrative_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk)
    user = request.user
    narrative_services.narrative_record_read(narrative=narrative, reader=user)
    # Read after this reader's own first read, which replaces the version.
    reach = READS.remember([f"reach-{pk}"], lambda: selectors.narrative_reach(narrative=narrative))
    incident = narrative.incident

    def story() -> str:
        actions = selectors.narrative_actions(narrative=narrative)
        return render_fragment("reviews/_narrative_story.html", {"narrative": narrative, "actions": actions})

    def facts() -> str:
        themes = selectors.narrative_themes(narrative=narrative)
        return render_fragment("reviews/_narrative_facts.html", {"incident": incident, "themes": themes})

    def related() -> str:
        others = selectors.narrative_related(narrative=narrative, viewer=user)
        return render_fragment("reviews/_narrative_related.html", {"related": others})

    def article() -> dict[str, Any]:
        can_publish = can_publish_narrative(user, narrative)
        context = {
            "narrative": narrative,
            "team_view": in_narrative_team(user, incident),
            "can_publish": can_publish,
            "can_override": can_override_loop(user, incident),
            # Whoever may read the narrative reads the same story.
            "story": cached_fragment(request, NARRATIVE, f"story-{pk}", viewer="reader", build=story),
        }
        if can_publish and not narrative.is_published:
            context["loop"] = selectors.loop_state(incident=incident)
        return context

    def aside() -> dict[str, Any]:
        return {
            "user": user,
            "can_publish": can_publish_narrative(user, narrative),
            "facts": cached_fragment(request, NARRATIVE, f"facts-{pk}", viewer="reader", build=facts),
            # Related narratives are those the viewer may read.
            "related": cached_fragment(
                request, NARRATIVE, f"related-{pk}", viewer=viewer_key(user), build=related
            ),
            "walkthroughs": selectors.narrative_walkthroughs(narrative=narrative),
        }

    # Its broadcast's progress is read afresh, for those who manage it.
    context = {
        "narrative": narrative,
        "incident": incident,
        "article": personal_fragment(
            request, NARRATIVE, f"article-{pk}", "reviews/_narrative_article.html", article
        ),
        "aside": personal_fragment(request, NARRATIVE, f"aside-{pk}", "reviews/_narrative_aside.html", aside),
        "reach": reach,
    }
    manages_broadcast = narrative.is_published and NARRATIVE.remember(
        [f"manages-broadcast-{pk}", f"user-{user.pk}"], lambda: can_manage_broadcast(user, narrative)
    )
    if manages_broadcast:
        from reviews.broadcast.selectors import broadcast_progress

        context["broadcast"] = broadcast_progress(narrative=narrative)
    return render(request, "reviews/narrative_detail.html", context)


@require_GET
def narrative_download(request: SignedInRequest, pk: int) -> HttpResponse:
    """The narrative as a Markdown file, for whoever may read it."""
    narrative = access_narrative(user=request.user, narrative_id=pk)
    response = HttpResponse(
        f"# {narrative.title}\n\n{narrative.body.strip()}\n", content_type="text/markdown; charset=utf-8"
    )
    filename = f"{slugify(narrative.title) or 'narrative'}-{narrative.pk}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
def narrative_edit(request: SignedInRequest, pk: int) -> HttpResponse:
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
                data = form.cleaned_data
                narrative_services.narrative_save(
                    narrative=narrative,
                    by=request.user,
                    version=data["version"],
                    changes={"title": data["title"], "body": data["body"]},
                )
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
    context = {
        "narrative": narrative,
        "incident": narrative.incident,
        "form": form,
        "conflict": conflict,
        "blend_changes": blend_changes(
            body=narrative.body, drafted=narrative.blend, incident=narrative.incident
        ),
    }
    return render(request, "reviews/narrative_edit.html", context, status=status)


@require_POST
def narrative_blend(request: SignedInRequest, pk: int) -> HttpResponse:
    """Take one changed section of the blend in, or leave it out."""
    narrative = access_narrative(user=request.user, narrative_id=pk, for_edit=True)
    form = BlendDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a section and whether to take it in.")
        return redirect("reviews:narrative_edit", narrative.pk)
    data = form.cleaned_data
    decision = {"accept" if data["decision"] == "accept" else "ignore": [data["section"]]}
    try:
        narrative_services.narrative_blend_apply(
            narrative=narrative, by=request.user, version=data["version"], **decision
        )
    except StaleVersion as stale:
        messages.error(request, f"Not taken in: {stale}")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        label = data["section"] or "the opening"
        messages.success(
            request,
            f"“{label}” now reads as its sources do."
            if data["decision"] == "accept"
            else f"“{label}” kept as you wrote it.",
        )
    return redirect("reviews:narrative_edit", narrative.pk)


@require_POST
def narrative_publish(request: SignedInRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk, for_publish=True)
    rebroadcast = narrative.is_published
    override_reason = request.POST.get("override_reason", "").strip()[:2000]
    if override_reason and not can_override_loop(request.user, narrative.incident):
        raise PermissionDenied("Only product and problem managers publish before the loop is closed.")
    try:
        narrative_services.narrative_publish(
            narrative=narrative, by=request.user, broadcast=True, override_reason=override_reason
        )
    except (ValidationError, LoopOpen) as error:
        messages.error(
            request, " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        )
    else:
        messages.success(
            request,
            "Broadcast again to the organisation."
            if rebroadcast
            else "Published: the organisation is being told.",
        )
    return redirect(narrative)


@require_GET
def narrative_revisions(request: SignedInRequest, pk: int) -> HttpResponse:
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
def narrative_library(request: SignedInRequest) -> HttpResponse:
    filters = LibraryFilterForm(request.GET or None)
    criteria = understood_filters(request, filters)
    chosen = {
        "team_id": criteria.get("team") or None,
        "service_id": criteria.get("service") or None,
        "severity": criteria.get("severity", ""),
        "theme_id": criteria.get("theme") or None,
    }
    query = criteria.get("q", "")

    def results() -> str:
        narratives = selectors.narrative_library(viewer=request.user, query=query, **chosen)
        page, query_string = page_of(
            request,
            # A search's two tiers (SearchResults) are a sequence that the paginator reads as a queryset.
            cast(QuerySet[Narrative], narratives),
            NARRATIVES_PER_PAGE,
            # Search results count themselves (up to a cap); the whole library is counted by index.
            count=None
            if query.strip()
            else lambda: selectors.narrative_library_count(viewer=request.user, **chosen),
        )
        context = {
            "page": page,
            "query_string": query_string,
            "query": query,
            "capped": isinstance(narratives, selectors.SearchResults) and narratives.capped,
            "cap": selectors.SEARCH_RESULTS_CAP,
        }
        return render_fragment("reviews/_narrative_results.html", context)

    def drafts() -> str:
        shown = selectors.narrative_drafts(viewer=request.user)[:DRAFTS_SHOWN]
        return render_fragment("reviews/_narrative_drafts.html", {"drafts": shown})

    html = cached_fragment(request, LIBRARY, "results", viewer=viewer_key(request.user), build=results)
    if request.htmx:
        return HttpResponse(html)
    context = {
        # Every reader chooses among the same teams, services and themes.
        "filter_fields": cached_filters(request, LIBRARY, filters, viewer="reader"),
        "results": html,
        "drafts": cached_fragment(request, LIBRARY, "drafts", viewer=viewer_key(request.user), build=drafts),
    }
    return render(request, "reviews/narrative_library.html", context)


@require_http_methods(["GET", "POST"])
def walkthrough_schedule(request: SignedInRequest, pk: int) -> HttpResponse:
    narrative = access_narrative(user=request.user, narrative_id=pk)
    if not can_schedule_walkthrough(request.user, narrative):
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
                kind=data["kind"],
                preparation_minutes=data["preparation_minutes"],
                **meeting_arguments(data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            kind = Walkthrough.Kind(data["kind"]).label
            messages.success(request, f"{kind} scheduled; invites are on their way.")
            return redirect(narrative)
    context = {"narrative": narrative, "form": form}
    return render(request, "reviews/walkthrough_form.html", context, status=400 if form.errors else 200)


@require_POST
def walkthrough_preparation(request: SignedInRequest, pk: int) -> HttpResponse:
    """The presenter's preparation time, recorded or corrected from the narrative page."""
    walkthrough = access_walkthrough(user=request.user, walkthrough_id=pk, for_manage=True)
    form = PreparationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Preparation: " + " ".join(map(str, form.errors["preparation_minutes"])))
        return redirect(walkthrough.narrative)
    call_reporting(
        request,
        narrative_services.walkthrough_preparation_set,
        walkthrough=walkthrough,
        by=request.user,
        preparation_minutes=form.cleaned_data["preparation_minutes"],
        success="Preparation time recorded.",
    )
    return redirect(walkthrough.narrative)


@require_POST
def walkthrough_cancel(request: SignedInRequest, pk: int) -> HttpResponse:
    walkthrough = access_walkthrough(user=request.user, walkthrough_id=pk, for_manage=True)
    call_reporting(
        request,
        narrative_services.walkthrough_cancel,
        walkthrough=walkthrough,
        by=request.user,
        success="Walkthrough cancelled.",
    )
    return redirect(walkthrough.narrative)
