"""Permission-checked fetches for reviews, actions and narratives.

- a review and the actions are visible to whoever can see the incident (its participants, see
  `incidents.access`); the review is managed by the team's product managers, problem managers and
  the review's facilitator while the review stands: a cancelled review's facilitator has no powers
  left;
- the outcomes — improvement actions recorded and changed, the narrative published once the loop is
  closed — are for any member of the incident's team, the standing review's facilitator, and
  product and problem managers (`can_record_outcomes`); publishing before the loop is closed, with
  a recorded reason, is for product and problem managers only (`can_override_loop`);
- a draft narrative is visible to and editable by the incident's team (members and product managers)
  and problem managers only — never to responders from other teams or the organisation at large;
- a published narrative is readable by every signed-in member, unless the incident is confidential,
  in which case only those who can see the incident read it.
"""

from collections.abc import Collection

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from incidents.access import (
    access_incident,
    can_manage_incident,
    can_manage_team,
    can_view_incident,
    in_managed_teams_q,
    sees_everything,
    user_managed_team_ids,
    user_team_ids,
    visible_incidents_q,
)
from incidents.models import Incident, User
from reviews.models import ImprovementAction, Narrative, Review, Training, Walkthrough


def is_facilitator(user: User, incident: Incident) -> bool:
    """Whether the user facilitates the incident's standing review (cached on the user for the
    request: a page asks it of each thing the facilitator may do)."""
    cache = user.__dict__.setdefault("_ybiyri_facilitates", {})
    if incident.pk not in cache:
        cache[incident.pk] = (
            Review.objects.filter(incident=incident, facilitator=user)
            .exclude(status=Review.Status.CANCELLED)
            .exists()
        )
    return cache[incident.pk]


def can_facilitate(user: User, incident: Incident) -> bool:
    return can_manage_incident(user, incident) or is_facilitator(user, incident)


def facilitates_review(user: User, review: Review) -> bool:
    """Whether the user facilitates the review while it stands (the incident has one review)."""
    return review.facilitator_id == user.pk and review.status != Review.Status.CANCELLED


def can_facilitate_review(user: User, review: Review) -> bool:
    """`can_facilitate` for the review's incident, from the review in hand: no query."""
    return can_manage_incident(user, review.incident) or facilitates_review(user, review)


def access_review(*, user: User, review_id: int, for_manage: bool = False) -> Review:
    try:
        review = Review.objects.select_related("incident__team", "incident__service", "facilitator").get(
            pk=review_id
        )
    except Review.DoesNotExist:
        raise Http404("No such review") from None
    # The standing review's facilitator is one of the incident's participants: known from the
    # review in hand, without asking the database.
    if not (facilitates_review(user, review) or can_view_incident(user, review.incident)):
        raise Http404("No such review")
    if for_manage and not can_facilitate_review(user, review):
        raise PermissionDenied("Only the facilitator and the team's product managers can change the review.")
    return review


def can_record_outcomes(user: User, incident: Incident) -> bool:
    """Record and change improvement actions, publish the narrative once the loop is closed."""
    return in_narrative_team(user, incident) or can_facilitate(user, incident)


def can_override_loop(user: User, incident: Incident) -> bool:
    """Publish the narrative before every analysis is in and the review held, giving a reason."""
    return can_manage_incident(user, incident)


def access_action(*, user: User, action_id: int, for_edit: bool = False) -> ImprovementAction:
    try:
        action = ImprovementAction.objects.select_related("incident__team", "owner", "review").get(
            pk=action_id
        )
    except ImprovementAction.DoesNotExist:
        raise Http404("No such action") from None
    if not can_view_incident(user, action.incident):
        raise Http404("No such action")
    if for_edit and not can_record_outcomes(user, action.incident):
        raise PermissionDenied("Only the incident's team and the review's facilitator can change actions.")
    return action


def actions_editable(user: User, actions: Collection[ImprovementAction]) -> set[int]:
    """The ids of `actions` the user may change (as `access_action(for_edit=True)` decides),
    with one query whatever their number."""
    facilitated = set(
        Review.objects.filter(facilitator=user, incident_id__in={action.incident_id for action in actions})
        .exclude(status=Review.Status.CANCELLED)
        .values_list("incident_id", flat=True)
    )
    return {
        action.pk
        for action in actions
        if in_narrative_team(user, action.incident) or action.incident_id in facilitated
    }


def in_narrative_team(user: User, incident: Incident) -> bool:
    """Draft, edit and read the incident's narrative before it is published: the incident's team
    (members and product managers) and problem managers."""
    return sees_everything(user) or incident.team_id in user_team_ids(user)


def readable_drafts_q(user: User) -> Q:
    """Draft narratives the user may read (the query form of `in_narrative_team`)."""
    drafts = Q(status=Narrative.Status.DRAFT)
    if sees_everything(user):
        return drafts
    return drafts & Q(incident__team_id__in=user_team_ids(user))


def access_incident_for_draft(*, user: User, incident_id: int) -> Incident:
    """The incident whose narrative `user` drafts: 404 if they may not see it, 403 unless they
    are in the incident's team (drafts stay within the team)."""
    incident = access_incident(user=user, incident_id=incident_id)
    if not in_narrative_team(user, incident):
        raise PermissionDenied("Only the incident's team can draft its narrative.")
    return incident


def can_read_narrative(user: User, narrative: Narrative) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if not narrative.is_published:
        return in_narrative_team(user, narrative.incident)
    return not narrative.incident.confidential or can_view_incident(user, narrative.incident)


def can_publish_narrative(user: User, narrative: Narrative) -> bool:
    return can_record_outcomes(user, narrative.incident)


def can_manage_broadcast(user: User, narrative: Narrative) -> bool:
    """See where a narrative was broadcast and send its failed deliveries again: the incident's
    product managers, problem managers and the standing review's facilitator (`can_facilitate`).
    Recipients' addresses are in there, so not every team member. The pages and the API both ask this."""
    return can_facilitate(user, narrative.incident)


def managed_broadcasts_q(user: User, prefix: str = "") -> Q:
    """The query form of `can_manage_broadcast`, over narratives (`prefix="narrative__"` from a
    delivery)."""
    if sees_everything(user):
        return Q()
    incident = f"{prefix}incident__"
    facilitates = Q(**{f"{incident}review__facilitator": user}) & ~Q(
        **{f"{incident}review__status": Review.Status.CANCELLED}
    )
    return Q(**{f"{incident}team_id__in": user_managed_team_ids(user)}) | facilitates


def access_broadcast(*, user: User, narrative_id: int) -> Narrative:
    """The narrative whose broadcast `user` follows and retries: 404 if they may not read the
    narrative, 403 if they may read it but not manage its broadcast."""
    narrative = access_narrative(user=user, narrative_id=narrative_id)
    if not can_manage_broadcast(user, narrative):
        raise PermissionDenied("Only those who may publish the narrative follow its broadcast.")
    return narrative


def readable_narratives_q(user: User) -> Q:
    """Published narratives the user may read (the library never lists drafts): every one whose
    incident is not confidential, and the confidential ones of incidents the user participates in
    (the query form of `can_read_narrative`)."""
    published = Q(status=Narrative.Status.PUBLISHED)
    if sees_everything(user):
        return published
    return published & (Q(incident__confidential=False) | visible_incidents_q(user, prefix="incident__"))


def access_narrative(
    *, user: User, narrative_id: int, for_edit: bool = False, for_publish: bool = False
) -> Narrative:
    """404 if the user may not read it (drafts outside the team included), 403 if they may not change it."""
    try:
        # Not its search vector, which only the library's search reads (and rewrites on its own).
        narrative = (
            Narrative.objects.select_related("incident__team", "incident__service")
            .defer("search_vector")
            .get(pk=narrative_id)
        )
    except Narrative.DoesNotExist:
        raise Http404("No such narrative") from None
    if not can_read_narrative(user, narrative):
        raise Http404("No such narrative")
    if for_edit and not in_narrative_team(user, narrative.incident):
        raise PermissionDenied("Only the incident's team can edit its narrative.")
    if for_publish and not can_publish_narrative(user, narrative):
        raise PermissionDenied("Only the incident's team and the review's facilitator can publish.")
    return narrative


def can_schedule_walkthrough(user: User, narrative: Narrative) -> bool:
    """Schedule a walkthrough or playback of a narrative: those who may publish it (the incident's
    team, the review's facilitator) and the incident's managers."""
    return can_publish_narrative(user, narrative) or can_manage_incident(user, narrative.incident)


def readable_walkthroughs_q(user: User) -> Q:
    """Walkthroughs and playbacks of the narratives the user may read (the query form of
    `access_walkthrough`'s 404): those of published narratives `readable_narratives_q` allows."""
    published = Q(narrative__status=Narrative.Status.PUBLISHED)
    if sees_everything(user):
        return published
    return published & (
        Q(narrative__incident__confidential=False) | visible_incidents_q(user, prefix="narrative__incident__")
    )


def access_walkthrough(*, user: User, walkthrough_id: int, for_manage: bool = False) -> Walkthrough:
    try:
        walkthrough = Walkthrough.objects.select_related("narrative__incident__team").get(pk=walkthrough_id)
    except Walkthrough.DoesNotExist:
        raise Http404("No such walkthrough") from None
    if not can_read_narrative(user, walkthrough.narrative):
        raise Http404("No such walkthrough")
    if for_manage and not (
        walkthrough.presenter_id == user.pk or can_publish_narrative(user, walkthrough.narrative)
    ):
        raise PermissionDenied("Only the presenter and the team's product managers can change a walkthrough.")
    return walkthrough


def can_manage_training(user: User, training: Training) -> bool:
    """A training is recorded, and removed, by the product managers of its team (and problem
    managers and superusers); every member may read it."""
    return user.is_authenticated and can_manage_team(user, training.team_id)


def manageable_trainings_q(user: User, prefix: str = "") -> Q:
    """The query form of `can_manage_training`."""
    return in_managed_teams_q(user, prefix)


def access_training(*, user: User, training_id: int, for_manage: bool = False) -> Training:
    """The training, or Http404 if there is none; PermissionDenied if `for_manage` and the user
    may not change it."""
    try:
        training = Training.objects.select_related("team", "trainer").get(pk=training_id)
    except Training.DoesNotExist:
        raise Http404("No such training") from None
    if for_manage and not can_manage_training(user, training):
        raise PermissionDenied("Only the product managers of the training's team can change it.")
    return training
