"""Pages of the collective review: scheduling, facilitation and what it records.

The facilitation page is a meeting mode: every form posts with htmx and gets back only the part of
the page it changed (plain posts without JavaScript still work: a redirect, or the page with the
form's errors). Everyone in the meeting sees the others' changes by polling `review_live`.

Polling, not server-sent events: the app runs on gunicorn sync workers, where one open event
stream holds a whole worker for the length of the meeting; a poll every few seconds asks one cheap
question ("has the review's revision moved?") and answers 204 when nothing changed.
"""

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.access import access_incident
from incidents.evidence.selectors import evidence_picks
from incidents.forms import add_service_errors
from incidents.models import AnalysisSession, User
from incidents.selectors import incident_themes, incident_timeline
from incidents.services import StaleVersion, check_incident_confirmed
from incidents.views import timeline_block
from reviews import selectors
from reviews.access import access_review, can_facilitate_review
from reviews.caches import INCIDENT_PAGES
from reviews.forms import (
    ActionEditForm,
    ActionForm,
    FactorEditForm,
    FactorForm,
    LearningEditForm,
    LearningForm,
    LinksForm,
    NotesFieldForm,
    PerspectiveForm,
    ReviewForm,
)
from reviews.models import (
    ContributingFactor,
    FactorSuggestion,
    ImprovementAction,
    Learning,
    Narrative,
    Review,
)
from reviews.services import review as review_services
from reviews.services.actions import ActionFields, action_raise, action_update
from reviews.services.traceability import factor_link, learning_link
from ybiyri.request_types import SignedInRequest
from ybiyri.views import call_reporting, fragment_with_errors, personal_fragment


def meeting_arguments(data: dict) -> dict:
    return {
        "scheduled_at": data["scheduled_at"],
        "time_zone": data["time_zone"],
        "duration_minutes": data["duration_minutes"],
        "location": data["location"],
    }


@require_http_methods(["GET", "POST"])
def review_schedule(request: SignedInRequest, pk: int) -> HttpResponse:
    incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
    if request.method == "GET" and not call_reporting(request, check_incident_confirmed, incident=incident):
        return redirect(incident)
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
                attendees=list(data["attendees"]),
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
def review_edit(request: SignedInRequest, pk: int) -> HttpResponse:
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
                changes={
                    "facilitator": data["facilitator"],
                    "video_url": data["video_url"],
                    **meeting_arguments(data),
                },
                attendees=list(data["attendees"]),
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
def review_cancel(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    call_reporting(
        request,
        review_services.review_cancel,
        review=review,
        by=request.user,
        success="Review cancelled; attendees receive a cancellation.",
    )
    return redirect(review.incident)


STEP_SHORT_LABELS = {
    Review.Step.REPORTS: "Reports",
    Review.Step.CONTEXT: "Context",
    Review.Step.PERSPECTIVES: "Perspectives",
    Review.Step.FACTORS: "Factors",
    Review.Step.LEARNINGS: "Learnings and actions",
    Review.Step.NARRATIVE: "Narrative",
}
NOTES_LABELS = {
    "context_notes": (
        "Organisational context",
        "Pressures, goals, constraints and the organisation around the people involved.",
    ),
    "perspectives_notes": (
        "What the perspectives tell us",
        "The facilitator's summary: where the perspectives agree, differ and surprise.",
    ),
}


def facilitation_context(request: SignedInRequest, review: Review, **overrides: Any) -> dict:
    """Everything the facilitation page and its parts show.

    `overrides` replace defaults: a bound form with errors (`forms={prefix: form}`), a conflict
    (`conflicts={prefix: their_text}`), a part's error message (`part_errors={part: message}`).
    """
    review = selectors.review_detail(review=review)
    user = request.user
    facilitates = can_facilitate_review(user, review)
    is_open = review.status != Review.Status.CANCELLED
    bound: dict[str, forms.Form] = overrides.pop("forms", {})
    conflicts: dict[str, str] = overrides.pop("conflicts", {})

    def form(prefix: str, form_class: type[forms.Form], initial: dict | None = None) -> forms.Form:
        return bound.get(prefix) or form_class(prefix=prefix, initial=initial)

    notes_fields = {}
    for name, (label, help_text) in NOTES_LABELS.items():
        notes_form = form(
            name,
            NotesFieldForm,
            {"version": getattr(review, f"{name}_version"), "text": getattr(review, name)},
        )
        notes_form.fields["text"].label, notes_form.fields["text"].help_text = label, help_text
        notes_fields[name] = {
            "name": name,
            "label": label,
            "text": getattr(review, name),
            "version": getattr(review, f"{name}_version"),
            "form": notes_form,
            "conflict": conflicts.get(name),
        }
    people = [
        review.facilitator,
        *[person for person in review.attendees.all() if person.pk != review.facilitator_id],
    ]
    perspectives = {perspective.author_id: perspective for perspective in review.perspectives.all()}
    own = perspectives.get(user.pk)
    perspective_slots = [
        {
            "person": person,
            "perspective": perspectives.get(person.pk),
            "form": form(
                "perspective",
                PerspectiveForm,
                {"version": own.version if own else 0, "body": own.body if own else ""},
            )
            if person.pk == user.pk and (is_open or "perspective" in bound)
            else None,
            "conflict": conflicts.get("perspective") if person.pk == user.pk else None,
        }
        for person in people
    ]
    link_choices: dict[str, list[tuple[int, str]]] = {}

    def links_form(prefix: str, names: tuple[str, ...], initial: dict) -> forms.Form | None:
        """The links form of one outcome, for those who facilitate; the choices (every key event
        of the timeline among them) are built once, and only when a form needs them."""
        if not facilitates:
            return None
        if prefix in bound:
            return bound[prefix]
        for name in names:
            if name not in link_choices:
                link_choices.update(links_choices(review, name))
        choices = {name: link_choices[name] for name in names}
        return LinksForm(prefix=prefix, initial=initial, choices=choices)

    factor_rows = [
        {
            "links_form": links_form(
                f"factor-links-{factor.pk}",
                ("themes", "key_events"),
                {
                    "themes": [theme.pk for theme in factor.themes.all()],
                    "key_events": [event.pk for event in factor.key_events.all()],
                },
            ),
            "factor": factor,
            "form": form(
                f"factor-{factor.pk}",
                FactorEditForm,
                {"description": factor.description, "kind": factor.kind, "version": factor.version},
            )
            if facilitates
            else None,
            "conflict": conflicts.get(f"factor-{factor.pk}"),
        }
        for factor in review.factors.all()
    ]
    suggestion_rows = [
        {
            "suggestion": suggestion,
            "form": form(
                f"suggestion-{suggestion.pk}",
                FactorForm,
                {"description": suggestion.description, "kind": suggestion.kind},
            )
            if facilitates
            else None,
        }
        for suggestion in review.factor_suggestions.all()
    ]
    learning_rows = [
        {
            "links_form": links_form(
                f"learning-links-{learning.pk}",
                ("factors",),
                {"factors": [factor.pk for factor in learning.factors.all()]},
            ),
            "learning": learning,
            "form": form(
                f"learning-{learning.pk}",
                LearningEditForm,
                {"description": learning.description, "version": learning.version},
            )
            if facilitates
            else None,
            "conflict": conflicts.get(f"learning-{learning.pk}"),
        }
        for learning in review.learnings.all()
    ]
    action_rows = [
        {
            "action": action,
            "form": form(
                f"action-{action.pk}",
                ActionEditForm,
                ActionEditForm.initial_for(action),
            )
            if facilitates
            else None,
        }
        for action in review.actions.all()
    ]
    steps = [
        {
            "value": value,
            "label": label,
            "short": STEP_SHORT_LABELS[Review.Step(value)],
            "number": number,
            "done": review.step_done(value),
            "current": value == review.current_step,
        }
        for number, (value, label) in enumerate(Review.Step.choices, start=1)
    ]
    analyses = selectors.review_analyses(review=review, viewer=user)
    return {
        "review": review,
        "incident": review.incident,
        "analyses": analyses.submitted,
        "unsubmitted": analyses.unsubmitted,
        "timeline": timeline_block(
            request,
            review.incident,
            empty="No key events yet.",
            sources=analyses.timeline,
            timeline_url=review.get_absolute_url(),
        ),
        "picks": evidence_picks(incident=review.incident, viewer=user),
        "steps": steps,
        "steps_done": sum(step["done"] for step in steps),
        "can_facilitate": facilitates,
        "can_edit": facilitates and is_open,
        "participates": is_open and any(person.pk == user.pk for person in people),
        "narrative": Narrative.objects.filter(incident=review.incident).first(),
        "notes_fields": notes_fields,
        "perspective_slots": perspective_slots,
        "factor_rows": factor_rows,
        "suggestion_rows": suggestion_rows,
        "learning_rows": learning_rows,
        "action_rows": action_rows,
        "factor_form": form("factor", FactorForm),
        "suggest_form": form("suggest", FactorForm),
        "learning_form": form("learning", LearningForm),
        "action_form": form("action", ActionForm),
        "live_token": selectors.review_live_token(review=review),
        "part_errors": {},
        **overrides,
    }


@require_GET
def review_facilitate(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk)

    html = personal_fragment(
        request,
        INCIDENT_PAGES,
        f"review-{review.pk}",
        "reviews/_review_page.html",
        lambda: facilitation_context(request, review),
    )
    return facilitation_page(request, review, html)


def facilitation_page(
    request: SignedInRequest, review: Review, page: str, *, status: int = 200
) -> HttpResponse:
    """The facilitation page around its content (`reviews/_review_page.html`, rendered)."""
    context = {"review": review, "incident": review.incident, "page": page}
    return render(request, "reviews/review_facilitate.html", context, status=status)


@require_GET
@never_cache
def review_live(request: SignedInRequest, pk: int) -> HttpResponse:
    """What changed since the page's `token`: 204 when nothing did, else every live part (out of band)."""
    review = access_review(user=request.user, review_id=pk)
    if request.GET.get("token") == selectors.review_live_token(review=review):
        return HttpResponse(status=204)
    return render(request, "reviews/_review_live.html", facilitation_context(request, review))


# Each part of the page a form changes: its template and where a plain post lands afterwards.
PARTS = {
    "meeting": ("reviews/_review_meeting_parts.html", "review-meeting"),
    "notes": ("reviews/_review_notes.html", "step-context"),
    "perspective": ("reviews/_review_perspective.html", "step-perspectives"),
    "factors": ("reviews/_review_factors.html", "step-factors"),
    "learnings": ("reviews/_learnings.html", "step-learnings"),
    "actions": ("reviews/_review_actions.html", "step-learnings"),
}


def part_response(
    request: SignedInRequest, review: Review, part: str, *, status: int = 200, **overrides: Any
) -> HttpResponse:
    """htmx gets the changed part only (with errors: 400, conflicts: 409); a plain post gets a
    redirect back to the step, or the whole page with the errors."""
    template, anchor = PARTS[part]
    if request.htmx or status >= 400:
        # Read again: the service has just changed the review or what hangs off it.
        review = access_review(user=request.user, review_id=review.pk)
    if request.htmx:
        context = facilitation_context(request, review, **overrides)
        if part == "notes":
            context["field"] = context["notes_fields"][overrides["notes_field"]]
        if part == "perspective":
            context["slot"] = next(
                slot for slot in context["perspective_slots"] if slot["person"].pk == request.user.pk
            )
        return render(request, template, context, status=status)
    if status >= 400:
        context = facilitation_context(request, review, **overrides)
        page = fragment_with_errors(request, "reviews/_review_page.html", context)
        return facilitation_page(request, review, page, status=status)
    return redirect(f"{review.get_absolute_url()}#{anchor}")


def form_or_error(
    request: SignedInRequest,
    review: Review,
    part: str,
    form: forms.Form,
    call: Callable[[dict], object],
    **overrides: Any,
) -> HttpResponse:
    """Validate `form`, then `call(cleaned_data)`; answer with the part (errors kept in the form)."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except StaleVersion as stale:
            return stale_response(request, review, part, form, stale, **overrides)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return part_response(request, review, part, **overrides)
    return part_response(request, review, part, status=400, forms={form.prefix: form}, **overrides)


def stale_response(
    request: SignedInRequest,
    review: Review,
    part: str,
    form: forms.Form,
    stale: StaleVersion,
    **overrides: Any,
) -> HttpResponse:
    """409: the person's text stays in the form, now based on the stored version, beside the stored text."""
    prefix = form.prefix
    if prefix is None:
        raise TypeError("The forms of a review's parts are prefixed with what they edit.")
    data = request.POST.copy()
    data[f"{prefix}-version"] = str(stale.current_version)
    retry = type(form)(data, prefix=prefix)
    retry.is_valid()
    retry.add_error(None, str(stale))
    return part_response(
        request,
        review,
        part,
        status=409,
        forms={prefix: retry},
        conflicts={prefix: stale_text(review, prefix, request.user)},
        **overrides,
    )


def stale_text(review: Review, prefix: str, user: User) -> str:
    """The stored text the stale save would have overwritten."""
    if prefix in review_services.NOTES_FIELDS:
        return getattr(Review.objects.get(pk=review.pk), prefix)
    kind, _, pk = prefix.partition("-")
    if kind == "factor":
        return ContributingFactor.objects.get(pk=pk).description
    if kind == "learning":
        return Learning.objects.get(pk=pk).description
    return review.perspectives.get(author=user).body


def meeting_call(
    request: SignedInRequest, pk: int, service: Callable[..., object], **arguments: Any
) -> HttpResponse:
    """A facilitator's meeting control (start, step, held): the meeting parts, or the error on them."""
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    if not request.htmx:
        call_reporting(request, service, review=review, by=request.user, **arguments)
        return redirect(f"{review.get_absolute_url()}#review-meeting")
    try:
        service(review=review, by=request.user, **arguments)
    except ValidationError as error:
        return part_response(
            request, review, "meeting", status=400, part_errors={"meeting": " ".join(error.messages)}
        )
    return part_response(request, review, "meeting")


@require_POST
def review_start(request: SignedInRequest, pk: int) -> HttpResponse:
    return meeting_call(request, pk, review_services.review_start)


@require_POST
def review_step(request: SignedInRequest, pk: int) -> HttpResponse:
    return meeting_call(
        request,
        pk,
        review_services.review_step_set,
        step=request.POST.get("step", ""),
        done=request.POST.get("done") == "1",
    )


@require_POST
def review_step_go(request: SignedInRequest, pk: int) -> HttpResponse:
    return meeting_call(request, pk, review_services.review_step_go, step=request.POST.get("step", ""))


@require_POST
def review_held(request: SignedInRequest, pk: int) -> HttpResponse:
    return meeting_call(request, pk, review_services.review_mark_held)


@require_POST
def review_notes(request: SignedInRequest, pk: int, field: str) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    if field not in review_services.NOTES_FIELDS:
        return HttpResponse("Unknown notes field.", status=404)
    return form_or_error(
        request, review, "notes", NotesFieldForm(request.POST, prefix=field),
        lambda data: review_services.review_notes_save(
            review=review, by=request.user, field=field, text=data["text"], version=data["version"]
        ),
        notes_field=field,
    )  # fmt: skip


@require_POST
def perspective_save(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk)
    return form_or_error(
        request, review, "perspective", PerspectiveForm(request.POST, prefix="perspective"),
        lambda data: review_services.perspective_save(review=review, by=request.user, **data),
    )  # fmt: skip


@require_POST
def factor_add(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    return form_or_error(
        request, review, "factors", FactorForm(request.POST, prefix="factor"),
        lambda data: review_services.factor_add(review=review, by=request.user, **data),
    )  # fmt: skip


def links_choices(review: Review, *names: str) -> dict[str, list[tuple[int, str]]]:
    """What an outcome of `review` may link to, as (id, label) choices by link name: the themes and
    key events of the incident's merged timeline, and the review's factors (the traceability
    services check the ids again)."""
    options = {
        "themes": lambda: [(theme.pk, theme.name) for theme in incident_themes(incident=review.incident)],
        "key_events": lambda: [
            (event.pk, f"{event.occurred_at:%d %b %H:%M} — {event.description[:80]}")
            for event in incident_timeline(incident=review.incident)
        ],
        "factors": lambda: [(factor.pk, factor.description[:100]) for factor in review.factors.all()],
    }
    return {name: options[name]() for name in names}


@require_POST
def factor_links(request: SignedInRequest, pk: int, factor_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    factor = get_object_or_404(ContributingFactor, pk=factor_id, review=review)
    form = LinksForm(
        request.POST,
        prefix=f"factor-links-{factor.pk}",
        choices=links_choices(review, "themes", "key_events"),
    )
    return form_or_error(
        request, review, "factors", form,
        lambda data: factor_link(
            factor=factor, by=request.user, theme_ids=data["themes"], key_event_ids=data["key_events"]
        ),
    )  # fmt: skip


@require_POST
def learning_links(request: SignedInRequest, pk: int, learning_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    learning = get_object_or_404(Learning, pk=learning_id, review=review)
    form = LinksForm(
        request.POST, prefix=f"learning-links-{learning.pk}", choices=links_choices(review, "factors")
    )
    return form_or_error(
        request, review, "learnings", form,
        lambda data: learning_link(learning=learning, by=request.user, factor_ids=data["factors"]),
    )  # fmt: skip


@require_POST
def factor_update(request: SignedInRequest, pk: int, factor_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    factor = get_object_or_404(ContributingFactor, pk=factor_id, review=review)
    return form_or_error(
        request, review, "factors", FactorEditForm(request.POST, prefix=f"factor-{factor.pk}"),
        lambda data: review_services.factor_update(factor=factor, by=request.user, **data),
    )  # fmt: skip


def outcome_call(
    request: SignedInRequest, review: Review, part: str, service: Callable[..., object], **arguments: Any
) -> HttpResponse:
    """Remove or move something of the review: the part again, with the service's refusal if any."""
    try:
        service(by=request.user, **arguments)
    except ValidationError as error:
        if not request.htmx:
            messages.error(request, " ".join(error.messages))
            return part_response(request, review, part)
        return part_response(request, review, part, status=400, part_errors={part: " ".join(error.messages)})
    return part_response(request, review, part)


@require_POST
def factor_delete(request: SignedInRequest, pk: int, factor_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    factor = get_object_or_404(ContributingFactor, pk=factor_id, review=review)
    return outcome_call(request, review, "factors", review_services.factor_delete, factor=factor)


@require_POST
def factor_suggest(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk)
    return form_or_error(
        request, review, "factors", FactorForm(request.POST, prefix="suggest"),
        lambda data: review_services.factor_suggest(review=review, by=request.user, **data),
    )  # fmt: skip


@require_POST
def suggestion_accept(request: SignedInRequest, pk: int, suggestion_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    suggestion = get_object_or_404(FactorSuggestion, pk=suggestion_id, review=review)
    return form_or_error(
        request, review, "factors", FactorForm(request.POST, prefix=f"suggestion-{suggestion.pk}"),
        lambda data: review_services.factor_suggestion_accept(suggestion=suggestion, by=request.user, **data),
    )  # fmt: skip


@require_POST
def suggestion_dismiss(request: SignedInRequest, pk: int, suggestion_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    suggestion = get_object_or_404(FactorSuggestion, pk=suggestion_id, review=review)
    return outcome_call(
        request, review, "factors", review_services.factor_suggestion_dismiss, suggestion=suggestion
    )


@require_POST
def learning_add(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    return form_or_error(
        request, review, "learnings", LearningForm(request.POST, prefix="learning"),
        lambda data: review_services.learning_add(review=review, by=request.user, **data),
    )  # fmt: skip


@require_POST
def learning_update(request: SignedInRequest, pk: int, learning_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    learning = get_object_or_404(Learning, pk=learning_id, review=review)
    return form_or_error(
        request, review, "learnings", LearningEditForm(request.POST, prefix=f"learning-{learning.pk}"),
        lambda data: review_services.learning_update(learning=learning, by=request.user, **data),
    )  # fmt: skip


@require_POST
def learning_move(request: SignedInRequest, pk: int, learning_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    learning = get_object_or_404(Learning, pk=learning_id, review=review)
    direction = request.POST.get("direction")
    if direction not in {"up", "down"}:
        return part_response(
            request, review, "learnings", status=400, part_errors={"learnings": "Move a learning up or down."}
        )
    return outcome_call(
        request,
        review,
        "learnings",
        review_services.learning_move,
        learning=learning,
        offset=-1 if direction == "up" else 1,
    )


@require_POST
def learning_delete(request: SignedInRequest, pk: int, learning_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    learning = get_object_or_404(Learning, pk=learning_id, review=review)
    return outcome_call(request, review, "learnings", review_services.learning_delete, learning=learning)


@require_POST
def action_add(request: SignedInRequest, pk: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    return form_or_error(
        request, review, "actions", ActionForm(request.POST, prefix="action"),
        lambda data: action_raise(incident=review.incident, review=review, by=request.user, **data),
    )  # fmt: skip


@require_POST
def action_edit(request: SignedInRequest, pk: int, action_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    action = get_object_or_404(ImprovementAction, pk=action_id, review=review)
    form = ActionEditForm(request.POST, prefix=f"action-{action.pk}")
    return form_or_error(
        request, review, "actions", form,
        lambda data: action_update(
            action=action,
            by=request.user,
            changes=cast(ActionFields, {name: data[name] for name in form.changed_data}),
        ),
    )  # fmt: skip


@require_POST
def action_withdraw(request: SignedInRequest, pk: int, action_id: int) -> HttpResponse:
    review = access_review(user=request.user, review_id=pk, for_manage=True)
    action = get_object_or_404(ImprovementAction, pk=action_id, review=review)
    return outcome_call(request, review, "actions", review_services.action_withdraw, action=action)
