import pytest
from django.contrib import admin
from django.urls import reverse

from incidents.models import Incident
from reviews.models import ImprovementAction, Narrative, Review

pytestmark = pytest.mark.django_db

DOMAIN_MODELS = [model for model in admin.site._registry if model._meta.app_label in {"incidents", "reviews"}]


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda model: model._meta.label)
def test_every_model_has_a_working_admin_list_and_add_page(client, admin_user, incident, model):
    client.force_login(admin_user)
    opts = model._meta
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
    add = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code in {200, 403}


def test_the_admin_covers_every_domain_model():
    covered = {model._meta.label for model in DOMAIN_MODELS}
    assert {
        Incident._meta.label,
        Review._meta.label,
        ImprovementAction._meta.label,
        Narrative._meta.label,
    } <= covered
    from django.apps import apps

    domain = {
        model._meta.label
        for app in ("incidents", "reviews")
        for model in apps.get_app_config(app).get_models()
    }
    assert domain == covered


def test_members_cannot_open_the_admin(client, pm):
    client.force_login(pm)
    assert client.get(reverse("admin:incidents_incident_changelist")).status_code == 302
