"""Pages of the collective review: scheduling, facilitation and what it records."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.access import access_incident
from incidents.forms import add_service_errors
from incidents.models import AnalysisSession
from incidents.selectors import incident_timeline
from reviews import selectors
from reviews.access import access_review, can_facilitate
from reviews.forms import ActionForm, FactorForm, LearningForm, NotesForm, ReviewForm
from reviews.models import ContributingFactor, Learning, Narrative, Review
from reviews.services import review as review_services
from reviews.services.actions import action_raise
from ybiyri.views import call_reporting


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
