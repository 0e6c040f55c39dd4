"""Trainings: the sessions that teach incident analysis and review facilitation, recorded in the
browser by the product managers of the team trained."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from incidents.access import managed_teams
from incidents.forms import add_service_errors
from reviews import selectors
from reviews.access import access_training, manageable_trainings_q
from reviews.forms import TrainingForm
from reviews.models import Training
from reviews.services.trainings import training_delete, training_record
from ybiyri.request_types import SignedInRequest
from ybiyri.views import page_of

TRAININGS_PER_PAGE = 50


@require_http_methods(["GET", "POST"])
def training_list(request: SignedInRequest) -> HttpResponse:
    teams = managed_teams(request.user)
    form = TrainingForm(request.POST or None, teams=teams)
    if request.method == "POST":
        if not teams.exists():
            raise PermissionDenied("Only product managers record their teams' trainings.")
        if form.is_valid():
            data = dict(form.cleaned_data)
            team = teams.get(pk=data.pop("team"))
            try:
                training_record(by=request.user, team=team, **data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, "Training recorded.")
                return redirect("reviews:trainings")
    page, query = page_of(request, selectors.training_list(), TRAININGS_PER_PAGE)
    manageable = set(
        Training.objects.filter(
            manageable_trainings_q(request.user), pk__in=[t.pk for t in page]
        ).values_list("pk", flat=True)
    )
    for training in page:
        training.manageable = training.pk in manageable
    context = {
        "form": form if request.method == "POST" or teams.exists() else None,
        "page": page,
        "query_string": query,
    }
    return render(request, "reviews/training_list.html", context, status=400 if form.errors else 200)


@require_POST
def training_remove(request: SignedInRequest, pk: int) -> HttpResponse:
    training = access_training(user=request.user, training_id=pk, for_manage=True)
    training_delete(training=training, by=request.user)
    messages.success(request, "Training removed.")
    return redirect("reviews:trainings")
