"""Pages of evidence: the panel beside the analysis editor, promotion, imports, pager drafts.

Thin: each fetches through `incidents.access` and calls one service or selector.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from incidents.access import access_analysis, access_evidence, access_incident, can_manage_incident
from incidents.evidence import selectors, services
from incidents.evidence.forms import EvidenceFilterForm, PromoteForm, SlackExportForm, SlackImportForm
from incidents.evidence.imports import slack_import_request
from incidents.evidence.models import Evidence
from incidents.evidence.slack_export import slack_export_import
from incidents.forms import add_service_errors
from incidents.models import AnalysisSession, Incident
from ybiyri.request_types import SignedInRequest
from ybiyri.views import call_reporting, for_template

EVIDENCE_PER_PAGE = 50


def promote_prefix(evidence_id: int) -> str:
    return f"promote-{evidence_id}"


def evidence_context(request: SignedInRequest, analysis: AnalysisSession, **extra: Any) -> dict[str, Any]:
    """The panel's context: one page of the filtered evidence (keyset: `after` an evidence id)."""
    filters = EvidenceFilterForm(request.GET)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    incident = analysis.incident
    evidence = selectors.evidence_list(
        incident=incident,
        filters=selectors.EvidenceFilter(
            source=criteria.get("source") or "",
            person=criteria.get("person") or "",
            query=criteria.get("q") or "",
        ),
    )
    after = criteria.get("after")
    if after:
        anchor = Evidence.objects.filter(pk=after, incident=incident).values("occurred_at", "pk").first()
        if anchor:
            evidence = selectors.evidence_after(evidence, occurred_at=anchor["occurred_at"], pk=anchor["pk"])
    items = list(evidence[: EVIDENCE_PER_PAGE + 1])
    more = len(items) > EVIDENCE_PER_PAGE
    items = items[:EVIDENCE_PER_PAGE]
    next_query = request.GET.copy()
    if more:
        next_query["after"] = str(items[-1].pk)
    editable = analysis.analyst_id == request.user.pk and not analysis.is_submitted
    promoted = selectors.evidence_promoted_by(analysis=analysis)
    failed = extra.pop("failed_form", None)
    for item in items:
        # Each form its own prefix, so the ids of its fields are unique on the page.
        for_template(
            item,
            promoted_as=promoted.get(item.pk),
            promote_form=(
                failed
                if failed and failed.prefix == promote_prefix(item.pk)
                else PromoteForm(prefix=promote_prefix(item.pk))
            ),
        )
    return {
        "analysis": analysis,
        "evidence_items": items,
        "evidence_loaded": True,
        "evidence_more": more,
        "evidence_next_query": next_query.urlencode() if more else "",
        "evidence_filters": filters,
        "evidence_people": selectors.evidence_people(incident=incident),
        "evidence_editable": editable,
        **extra,
    }


@require_GET
def analysis_evidence(request: SignedInRequest, pk: int) -> HttpResponse:
    """The evidence panel (the analysis page loads it beside the editor), or the page of its own."""
    analysis = access_analysis(user=request.user, analysis_id=pk)
    context = evidence_context(request, analysis)
    template = "incidents/_evidence.html" if request.htmx else "incidents/evidence_page.html"
    return render(request, template, context)


@require_POST
def evidence_promote(request: SignedInRequest, pk: int, evidence_id: int) -> HttpResponse:
    """The analyst promotes a message or pager event to one of their own key events."""
    analysis = access_analysis(user=request.user, analysis_id=pk, for_edit=True)
    evidence = access_evidence(user=request.user, evidence_id=evidence_id)
    form = PromoteForm(request.POST, prefix=promote_prefix(evidence.pk))
    extra: dict[str, Any]
    status, extra = 400, {"failed_form": form}
    if form.is_valid():
        try:
            services.evidence_promote(
                evidence=evidence, analysis=analysis, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            status, extra = 200, {"announce": "Promoted to a key event."}
    if not request.htmx:
        if status == 200:
            messages.success(request, "Promoted to a key event.")
        else:
            messages.error(request, " ".join(f"{e}" for errors in form.errors.values() for e in errors))
        return redirect("evidence:analysis", analysis.pk)
    response = render(
        request, "incidents/_evidence.html", evidence_context(request, analysis, **extra), status=status
    )
    if status == 200:
        # The analysis page's key events list listens for this and reloads itself.
        response["HX-Trigger"] = "key-events-changed"
    return response


@require_POST
def slack_import(request: SignedInRequest, pk: int) -> HttpResponse:
    """Import a Slack channel into the incident's evidence (its managers); runs as a job."""
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    form = SlackImportForm(request.POST)
    if form.is_valid():
        slack_import_request(incident=incident, by=request.user, **form.cleaned_data)
        messages.success(
            request, "The channel is being imported; its progress shows on the incident's evidence."
        )
        return redirect("evidence:incident", incident.pk)
    return incident_evidence_page(request, incident, import_form=form, status=400)


@require_POST
def slack_upload(request: SignedInRequest, pk: int) -> HttpResponse:
    """Import a channel from an uploaded Slack export (its managers)."""
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    form = SlackExportForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            seen, added = slack_export_import(incident=incident, by=request.user, **data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{seen} messages read, {added} new.")
            return redirect("evidence:incident", incident.pk)
    return incident_evidence_page(request, incident, upload_form=form, status=400)


def incident_evidence_page(
    request: SignedInRequest, incident: Incident, *, status: int = 200, **forms: Form
) -> HttpResponse:
    context = {
        "incident": incident,
        "manages": can_manage_incident(request.user, incident),
        "imports": incident.slack_imports.select_related("requested_by")[:10],
        "evidence_count": incident.evidence.count(),
        "import_form": forms.get("import_form") or SlackImportForm(),
        "upload_form": forms.get("upload_form") or SlackExportForm(),
    }
    return render(request, "incidents/incident_evidence.html", context, status=status)


@require_GET
def incident_evidence(request: SignedInRequest, pk: int) -> HttpResponse:
    """The incident's evidence sources and imports (progress of the jobs)."""
    return incident_evidence_page(request, access_incident(user=request.user, incident_id=pk))


@require_GET
def drafts(request: SignedInRequest) -> HttpResponse:
    """Drafts from the pager for the product managers to confirm or dismiss."""
    return render(
        request, "incidents/pager_drafts.html", {"drafts": selectors.pager_drafts(viewer=request.user)}
    )


@require_POST
def draft_confirm(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    if call_reporting(
        request,
        services.incident_confirm,
        incident=incident,
        by=request.user,
        success="Confirmed as an incident of consequence.",
    ):
        return redirect(incident)
    return redirect("evidence:drafts")


@require_POST
def draft_dismiss(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    call_reporting(
        request, services.incident_dismiss, incident=incident, by=request.user, success="Draft dismissed."
    )
    return redirect("evidence:drafts")
