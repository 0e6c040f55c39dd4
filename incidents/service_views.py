"""The services pages: every service with its operating model and how its incidents went; each
service edited by the product managers of its team."""

from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from incidents import selectors, services
from incidents.access import access_service, editable_services_q
from incidents.forms import ServiceForm, add_service_errors
from incidents.models import Service
from incidents.services import ServiceFields
from ybiyri.request_types import SignedInRequest
from ybiyri.views import page_of

SERVICES_PER_PAGE = 50


@require_GET
def service_list(request: SignedInRequest) -> HttpResponse:
    page, query = page_of(request, selectors.service_catalogue(viewer=request.user), SERVICES_PER_PAGE)
    editable = set(
        Service.objects.filter(editable_services_q(request.user), pk__in=[s.pk for s in page]).values_list(
            "pk", flat=True
        )
    )
    for service in page:
        service.editable = service.pk in editable
    return render(request, "incidents/service_list.html", {"page": page, "query_string": query})


@require_http_methods(["GET", "POST"])
def service_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    service = access_service(user=request.user, service_id=pk, for_edit=True)
    form = ServiceForm(request.POST or None, instance=service)
    if request.method == "POST" and form.is_valid():
        changes = cast(ServiceFields, {name: form.cleaned_data[name] for name in form.Meta.fields})
        try:
            services.service_update(
                service=access_service(user=request.user, service_id=pk), by=request.user, changes=changes
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{service.name} saved.")
            return redirect("incidents:services")
    context = {"form": form, "service": service}
    return render(request, "incidents/service_form.html", context, status=400 if form.errors else 200)
