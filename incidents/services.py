"""Writes for incidents and analyses. Callers have checked permissions through `incidents.access`."""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from incidents.calendar import CalendarEvent, absolute_url, calendar_ics
from incidents.evidence.pagers import check_pager_mapping_free
from incidents.models import (
    AnalysisSession,
    AuditEntry,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Notification,
    Responder,
    Service,
    Team,
    User,
    new_feed_token,
)
from incidents.tasks import NOTIFICATIONS
from ybiyri.changes import apply_changes, audit_changes
from ybiyri.db import insert_or_refuse, lock_row
from ybiyri.errors import Conflict
from ybiyri.text import single_line

MAX_ALLOCATED_MINUTES = 40 * 60
MAX_TIME_SPENT_MINUTES = 200 * 60


class StaleVersion(Conflict):
    """A save was based on an older version than the one stored; nothing was written."""

    def __init__(self, *, current_version: int, message: str = "") -> None:
        self.current_version = current_version
        super().__init__(
            message
            or f"Someone else saved a newer version (version {current_version}) while you were editing. "
            "Your text is kept below: compare, merge and save again."
        )

    def details(self) -> dict:
        return {"current_version": self.current_version}


def audit_record(
    *,
    actor: User | None,
    verb: str,
    target: models.Model,
    team: Team | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append who did what to which object; part of the caller's transaction.

    The entry belongs to `team` if given, else to the team that owns `target` (see `team_of`), so
    the team's product managers read it; entries about organisation-wide objects have no team.
    """
    return AuditEntry.objects.create(
        actor=actor,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:250],
        team=team if team is not None else team_of(target),
        changes=changes or {},
    )


# The relations that lead from an object towards its team, tried in this order: a review's
# factor reaches it through review → incident → team, a delivery through narrative → incident.
OWNER_RELATIONS = ("team", "incident", "review", "narrative", "analysis")


def team_of(target: models.Model) -> Team | None:
    """The team that owns `target`, following its owner relations; None for organisation-wide
    objects (themes, users)."""
    if isinstance(target, Team):
        return target
    forward = {field.name for field in target._meta.concrete_fields if field.is_relation}
    for name in OWNER_RELATIONS:
        if name in forward:
            owner = getattr(target, name)
            return team_of(owner) if owner is not None else None
    return None


def notification_queue(
    *,
    key: str,
    recipient: User | None,
    subject: str,
    body: str,
    ics: str = "",
    ics_method: str = "",
    to_email: str = "",
) -> Notification | None:
    """Record an email in the outbox (once per key) and send it after the transaction commits.

    The address is `to_email` if given (e.g. a list address), else the recipient's. Returns None
    when there is no address or the key was queued before.
    """
    to_email = to_email or (recipient.email if recipient else "")
    if not to_email:
        return None
    notification, created = Notification.objects.get_or_create(
        key=key,
        defaults={
            "recipient": recipient,
            "to_email": to_email,
            "subject": single_line(subject)[:250],
            "body": body,
            "ics": ics,
            "ics_method": ics_method,
        },
    )
    if not created:
        return None
    NOTIFICATIONS.send_on_commit([notification.pk])
    return notification


def check_service_belongs_to_team(*, service: Service, team: Team) -> None:
    if service.team_id != team.pk:
        raise ValidationError({"service": "This service belongs to another team."})


def check_member_of_organisation(user: User, *, field: str = "user") -> None:
    if not user.is_active:
        raise ValidationError({field: f"{user.username} is not an active member of the organisation."})


class IncidentFields(TypedDict, total=False):
    """The fields of an incident its managers change (`incident_update`)."""

    title: str
    summary: str
    severity: str
    team: Team
    service: Service
    started_at: datetime
    detected_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    confidential: bool


@transaction.atomic
def incident_declare(
    *,
    by: User,
    team: Team,
    service: Service,
    title: str,
    severity: str,
    started_at: datetime,
    summary: str = "",
    detected_at: datetime | None = None,
    mitigated_at: datetime | None = None,
    resolved_at: datetime | None = None,
    confidential: bool = False,
    responders: Sequence[tuple[User, str]] = (),
) -> Incident:
    check_service_belongs_to_team(service=service, team=team)
    incident = Incident(
        title=single_line(title),
        summary=summary.strip(),
        severity=severity,
        team=team,
        service=service,
        operating_model=service.operating_model,
        started_at=started_at,
        detected_at=detected_at,
        mitigated_at=mitigated_at,
        resolved_at=resolved_at,
        confidential=confidential,
        declared_by=by,
    )
    incident.full_clean()
    incident.save()
    for user, role in responders:
        responder_add(incident=incident, by=by, user=user, role=role)
    audit_record(actor=by, verb="incident.declared", target=incident, team=team)
    return incident


@transaction.atomic
def incident_update(*, incident: Incident, by: User, changes: IncidentFields) -> Incident:
    """Change the given fields only; the audit log names those whose value changed."""
    changes = changes.copy()
    if "title" in changes:
        changes["title"] = single_line(changes["title"])
    changed = apply_changes(incident, changes, fields=IncidentFields.__optional_keys__)
    check_service_belongs_to_team(service=incident.service, team=incident.team)
    incident.full_clean()
    incident.save()
    if changed:
        audit_record(
            actor=by,
            verb="incident.updated",
            target=incident,
            team=incident.team,
            changes=audit_changes(changed),
        )
    return incident


@transaction.atomic
def responder_add(*, incident: Incident, by: User, user: User, role: str = "") -> Responder:
    """Add `user` as a responder; someone already responding is refused with a ValidationError on
    `user`, also when they were added by someone else since the check."""
    check_member_of_organisation(user)
    already = ValidationError({"user": f"{user.display_name} is already a responder."})
    if incident.responders.filter(user=user).exists():
        raise already
    responder = Responder(incident=incident, user=user, role=role.strip())
    responder.full_clean(exclude=["incident", "user"])
    insert_or_refuse(lambda: responder.save(force_insert=True), refusal=already)
    audit_record(
        actor=by,
        verb="responder.added",
        target=responder,
        team=incident.team,
        changes={"user": user.username},
    )
    return responder


@transaction.atomic
def responder_set_role(*, responder: Responder, by: User, role: str) -> Responder:
    """Set or change a responder's role in the response; an unchanged role writes nothing."""
    role = " ".join(role.split())
    if role == responder.role:
        return responder
    before = responder.role
    responder.role = role
    responder.full_clean(exclude=["incident", "user"])
    responder.save(update_fields=["role"])
    audit_record(
        actor=by,
        verb="responder.role_set",
        target=responder,
        team=responder.incident.team,
        changes={"user": responder.user.username, "role": [before, role]},
    )
    return responder


@transaction.atomic
def responder_remove(*, responder: Responder, by: User) -> None:
    analysis = AnalysisSession.objects.filter(responder=responder).first()
    if analysis and (analysis.is_submitted or analysis.report or analysis.key_events.exists()):
        raise ValidationError(f"{responder.user.display_name} has already analysed this incident.")
    audit_record(
        actor=by,
        verb="responder.removed",
        target=responder,
        team=responder.incident.team,
        changes={"user": responder.user.username},
    )
    responder.delete()


@dataclass(frozen=True)
class Allocation:
    responder: Responder
    allocated_minutes: int
    due_at: datetime


def analysis_invite(analysis: AnalysisSession, *, sequence: int) -> str:
    """A calendar block of the allocated minutes, ending at the due time."""
    incident = analysis.incident
    url = absolute_url(analysis.get_absolute_url())
    return calendar_ics(
        CalendarEvent(
            uid=f"analysis-{analysis.pk}@ybiyri",
            sequence=sequence,
            summary=f"Incident analysis: {incident.title}",
            description=f"Your time-boxed analysis of “{incident.title}”.\n{url}",
            start=analysis.due_at - timedelta(minutes=analysis.allocated_minutes),
            end=analysis.due_at,
            organizer=analysis.scheduled_by,
            attendees=(analysis.analyst,),
            url=url,
        )
    )


def check_incident_confirmed(incident: Incident) -> None:
    """Refuse work on a draft from the pager (or a dismissed one): analyses, the review and the
    narrative's broadcast wait until a product manager confirms it as an incident of consequence."""
    if incident.status == Incident.Status.DRAFT:
        raise ValidationError(
            "This incident is a draft from the pager: confirm it as an incident of consequence first."
        )
    if incident.status == Incident.Status.DISMISSED:
        raise ValidationError(
            "This draft from the pager was dismissed: it is not an incident of consequence."
        )


def check_allocation(allocation: Allocation, *, incident: Incident) -> None:
    name = allocation.responder.user.display_name
    if allocation.responder.incident_id != incident.pk:
        raise ValidationError(f"{name} is not a responder of this incident.")
    if not 1 <= allocation.allocated_minutes <= MAX_ALLOCATED_MINUTES:
        raise ValidationError(
            f"Allocated time for {name} must be between 1 and {MAX_ALLOCATED_MINUTES} minutes."
        )
    if allocation.due_at <= timezone.now():
        raise ValidationError(f"The due date for {name} must be in the future.")


@transaction.atomic
def analysis_allocate(
    *, incident: Incident, by: User, allocations: Sequence[Allocation]
) -> list[AnalysisSession]:
    """Create (or adjust) one analysis session per responder and send each a calendar invite.

    An analysis that has been submitted is left as it is.
    """
    if not allocations:
        raise ValidationError("Choose at least one responder to allocate an analysis to.")
    for allocation in allocations:
        check_allocation(allocation, incident=incident)
    incident = lock_row(Incident.objects.select_related("team"), incident.pk)
    check_incident_confirmed(incident)
    sessions = []
    for allocation in allocations:
        responder = allocation.responder
        analysis = AnalysisSession.objects.filter(responder=responder).first()
        if analysis is None:
            analysis = AnalysisSession.objects.create(
                responder=responder,
                incident=incident,
                analyst=responder.user,
                scheduled_by=by,
                allocated_minutes=allocation.allocated_minutes,
                due_at=allocation.due_at,
            )
            sequence, key = 0, f"analysis-allocated:{analysis.pk}"
        elif analysis.is_submitted or (
            analysis.allocated_minutes == allocation.allocated_minutes
            and analysis.due_at == allocation.due_at
        ):
            sessions.append(analysis)
            continue
        else:
            analysis.allocated_minutes = allocation.allocated_minutes
            analysis.due_at = allocation.due_at
            analysis.scheduled_by = by
            analysis.save(update_fields=["allocated_minutes", "due_at", "scheduled_by", "updated_at"])
            sequence = max(1, int((timezone.now() - analysis.created_at).total_seconds()))
            due = int(analysis.due_at.timestamp())
            key = f"analysis-reallocated:{analysis.pk}:{due}:{analysis.allocated_minutes}"
        context = {
            "analysis": analysis,
            "incident": incident,
            "url": absolute_url(analysis.get_absolute_url()),
        }
        notification_queue(
            key=key,
            recipient=analysis.analyst,
            subject=f"Analysis allocated: {incident.title} — {analysis.allocated_minutes} min, due "
            f"{timezone.localtime(analysis.due_at):%d %b %Y %H:%M}",
            body=render_to_string("incidents/email/analysis_allocated.txt", context),
            ics=analysis_invite(analysis, sequence=sequence),
            ics_method="REQUEST",
        )
        audit_record(
            actor=by,
            verb="analysis.allocated",
            target=analysis,
            team=incident.team,
            changes={"allocated_minutes": analysis.allocated_minutes, "due_at": analysis.due_at.isoformat()},
        )
        sessions.append(analysis)
    if incident.status == Incident.Status.DECLARED:
        incident.status = Incident.Status.ANALYSING
        incident.save(update_fields=["status", "updated_at"])
    return sessions


def check_analysis_open(analysis: AnalysisSession) -> None:
    if analysis.is_submitted:
        raise ValidationError("This analysis has been submitted and is locked.")


def analysis_lock(analysis: AnalysisSession) -> AnalysisSession:
    """Re-read the analysis under a row lock; caller is inside a transaction."""
    return lock_row(AnalysisSession.objects.select_related("incident__team"), analysis.pk)


def analysis_touch(analysis: AnalysisSession) -> None:
    """Mark a scheduled analysis as started; caller holds the row lock."""
    if analysis.status == AnalysisSession.Status.SCHEDULED:
        analysis.status = AnalysisSession.Status.IN_PROGRESS
        analysis.save(update_fields=["status", "updated_at"])


class AnalysisReportFields(TypedDict, total=False):
    """What the analyst writes (`analysis_save`): the report, the time spent and the themes."""

    report: str
    time_spent_minutes: int
    themes: Sequence[LearningTheme]


@transaction.atomic
def analysis_save(
    *, analysis: AnalysisSession, by: User, version: int, changes: AnalysisReportFields
) -> AnalysisSession:
    """Save the given fields as the next version if `version` is the stored one; raise
    StaleVersion if not."""
    locked = analysis_lock(analysis)
    check_analysis_open(locked)
    if locked.version != version:
        raise StaleVersion(current_version=locked.version)
    changes = changes.copy()
    themes = changes.pop("themes", None)
    apply_changes(locked, changes, fields=AnalysisReportFields.__optional_keys__ - {"themes"})
    if not 0 <= locked.time_spent_minutes <= MAX_TIME_SPENT_MINUTES:
        raise ValidationError(
            {"time_spent_minutes": f"Enter between 0 and {MAX_TIME_SPENT_MINUTES} minutes."}
        )
    locked.version += 1
    if locked.status == AnalysisSession.Status.SCHEDULED:
        locked.status = AnalysisSession.Status.IN_PROGRESS
    locked.save()
    if themes is not None:
        locked.themes.set(themes)
    audit_record(
        actor=by,
        verb="analysis.saved",
        target=locked,
        team=locked.incident.team,
        changes={"version": locked.version},
    )
    return locked


@transaction.atomic
def theme_get_or_create(*, name: str, by: User) -> LearningTheme:
    """The theme with this name (case-insensitively), created in the shared taxonomy if new.

    Safe under concurrency: two people creating the same name get the same theme, and two names
    with the same slug get distinct slugs."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the theme a name."})
    if len(name) > 80:
        raise ValidationError({"name": "Theme names are at most 80 characters."})
    base_slug = slugify(name)[:70] or "theme"
    suffix = 1
    while True:
        existing = LearningTheme.objects.filter(name__iexact=name).first()
        if existing:
            return existing
        slug = base_slug if suffix == 1 else f"{base_slug}-{suffix}"
        if LearningTheme.objects.filter(slug=slug).exists():
            suffix += 1
            continue
        try:
            with transaction.atomic():
                theme = LearningTheme.objects.create(name=name, slug=slug)
        except IntegrityError:
            # Someone created this name or took this slug since the checks: look again.
            continue
        audit_record(actor=by, verb="theme.created", target=theme)
        return theme


@transaction.atomic
def interview_add(
    *, analysis: AnalysisSession, by: User, interviewee: str, held_at: datetime, notes: str = ""
) -> Interview:
    return analysis_part_add(
        analysis,
        by=by,
        verb="interview.added",
        build=lambda locked: Interview(
            analysis=locked, interviewee=interviewee.strip(), held_at=held_at, notes=notes
        ),
    )


@transaction.atomic
def interview_update(
    *, interview: Interview, by: User, interviewee: str, held_at: datetime, notes: str = ""
) -> Interview:
    """Correct an interview of an analysis that is still open."""
    changes = {"interviewee": interviewee.strip(), "held_at": held_at, "notes": notes}
    return analysis_part_update(
        interview, by=by, changes=changes, verb="interview.updated", audited=AUDITED_INTERVIEW_FIELDS
    )


@transaction.atomic
def interview_delete(*, interview: Interview, by: User) -> None:
    analysis_part_delete(interview, by=by, verb="interview.deleted")


@transaction.atomic
def key_event_add(
    *, analysis: AnalysisSession, by: User, occurred_at: datetime, description: str, evidence_url: str = ""
) -> KeyEvent:
    return analysis_part_add(
        analysis,
        by=by,
        verb="key_event.added",
        build=lambda locked: KeyEvent(
            analysis=locked,
            incident_id=locked.incident_id,
            occurred_at=occurred_at,
            description=description.strip(),
            evidence_url=evidence_url.strip(),
        ),
    )


@transaction.atomic
def key_event_update(
    *, key_event: KeyEvent, by: User, occurred_at: datetime, description: str, evidence_url: str = ""
) -> KeyEvent:
    """Correct a key event of an analysis that is still open."""
    changes = {
        "occurred_at": occurred_at,
        "description": description.strip(),
        "evidence_url": evidence_url.strip(),
    }
    return analysis_part_update(
        key_event, by=by, changes=changes, verb="key_event.updated", audited=AUDITED_KEY_EVENT_FIELDS
    )


@transaction.atomic
def key_event_delete(*, key_event: KeyEvent, by: User) -> None:
    analysis_part_delete(key_event, by=by, verb="key_event.deleted")


# The fields of an interview or key event whose corrections the audit log names (notes stay out
# of the log: they may hold what people said in confidence).
AUDITED_INTERVIEW_FIELDS = ("interviewee", "held_at")
AUDITED_KEY_EVENT_FIELDS = ("occurred_at", "description", "evidence_url")


def analysis_part_add[Part: (Interview, KeyEvent)](
    analysis: AnalysisSession, *, by: User, verb: str, build: Callable[[AnalysisSession], Part]
) -> Part:
    """Add the interview or key event `build` makes for the analysis, read under its row lock, if it
    is still open; the analysis counts as started. Caller is in a transaction."""
    locked = analysis_lock(analysis)
    check_analysis_open(locked)
    part = build(locked)
    part.full_clean()
    part.save()
    analysis_touch(locked)
    audit_record(actor=by, verb=verb, target=part, team=locked.incident.team)
    return part


def analysis_part_update[Part: (Interview, KeyEvent)](
    part: Part, *, by: User, changes: Mapping[str, Any], verb: str, audited: Collection[str]
) -> Part:
    """Set the given fields of an interview or key event of an analysis that is still open (under
    the analysis's row lock) and audit the `audited` ones that changed. Caller is in a transaction."""
    locked = analysis_lock(part.analysis)
    check_analysis_open(locked)
    changed = apply_changes(part, changes, fields=changes.keys())
    part.full_clean()
    part.save()
    audit_record(
        actor=by,
        verb=verb,
        target=part,
        team=locked.incident.team,
        changes=audit_changes({name: change for name, change in changed.items() if name in audited}),
    )
    return part


def analysis_part_delete(part: Interview | KeyEvent, *, by: User, verb: str) -> None:
    """Delete an interview or key event of an analysis that is still open. Caller is in a transaction."""
    locked = analysis_lock(part.analysis)
    check_analysis_open(locked)
    audit_record(actor=by, verb=verb, target=part, team=locked.incident.team)
    part.delete()


@transaction.atomic
def analysis_save_and_submit(
    *, analysis: AnalysisSession, by: User, version: int, changes: AnalysisReportFields
) -> AnalysisSession:
    """Save what was typed, then submit it, as one change: either both happen or neither.

    The same version check as `analysis_save`: a submit based on a stale version raises StaleVersion.
    """
    saved = analysis_save(analysis=analysis, by=by, version=version, changes=changes)
    return analysis_submit(analysis=saved, by=by)


@transaction.atomic
def analysis_submit(*, analysis: AnalysisSession, by: User) -> AnalysisSession:
    """Lock the analysis and tell the team's product managers (and whoever scheduled it)."""
    locked = analysis_lock(analysis)
    check_analysis_open(locked)
    if not locked.report.strip():
        raise ValidationError({"report": "Write the analysis report before submitting."})
    locked.status = AnalysisSession.Status.SUBMITTED
    locked.submitted_at = timezone.now()
    locked.save(update_fields=["status", "submitted_at", "updated_at"])
    incident = locked.incident
    recipients = {user.pk: user for user in incident.team.product_managers.all()}
    recipients.setdefault(locked.scheduled_by_id, locked.scheduled_by)
    context = {"analysis": locked, "incident": incident, "url": absolute_url(incident.get_absolute_url())}
    for user in recipients.values():
        notification_queue(
            key=f"analysis-submitted:{locked.pk}:{user.pk}",
            recipient=user,
            subject=f"Analysis submitted: {incident.title} by {locked.analyst.display_name}",
            body=render_to_string("incidents/email/analysis_submitted.txt", context),
        )
    audit_record(actor=by, verb="analysis.submitted", target=locked, team=incident.team)
    return locked


@transaction.atomic
def analysis_waive(*, analysis: AnalysisSession, by: User, reason: str) -> AnalysisSession:
    """Let the learning loop close without this analysis, for a recorded reason (the caller has
    checked that `by` manages the incident). The analyst may still submit it later."""
    locked = analysis_lock(analysis)
    check_analysis_open(locked)
    if locked.is_waived:
        raise ValidationError("This analysis is already waived.")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the loop may close without this analysis."})
    locked.waived_at = timezone.now()
    locked.waived_by = by
    locked.waive_reason = reason
    locked.full_clean(exclude=["themes"])
    locked.save(update_fields=["waived_at", "waived_by", "waive_reason", "updated_at"])
    audit_record(
        actor=by,
        verb="analysis.waived",
        target=locked,
        team=locked.incident.team,
        changes={"reason": reason},
    )
    return locked


def user_update_preferences(*, user: User, broadcast_opt_out: bool) -> User:
    user.broadcast_opt_out = broadcast_opt_out
    user.save(update_fields=["broadcast_opt_out"])
    audit_record(
        actor=user, verb="preferences.updated", target=user, changes={"broadcast_opt_out": broadcast_opt_out}
    )
    return user


def user_rotate_feed_token(*, user: User) -> User:
    """Revoke the user's secret feed URL by issuing a new token."""
    user.feed_token = new_feed_token()
    user.save(update_fields=["feed_token"])
    audit_record(actor=user, verb="feed_token.rotated", target=user)
    return user


class ServiceFields(TypedDict, total=False):
    """The fields of a service its team's product managers set (`service_create`, `service_update`)."""

    description: str
    operating_model: str
    on_call_team: Team | None
    demand: str
    sourcing: str
    cost_of_delay_per_day: Decimal | None
    pagerduty_service_ids: list[str]
    opsgenie_teams: list[str]
    alertmanager_matchers: list[str]


class TeamFields(TypedDict, total=False):
    """The fields of a team administrators set besides its name and people."""

    name: str
    tracker: str
    jira_project_key: str
    jira_issue_type: str
    trello_list_id: str
    trello_done_list_id: str


@transaction.atomic
def service_create(*, by: User, team: Team, name: str, fields: ServiceFields | None = None) -> Service:
    """A new service of `team` (the caller has checked that `by` manages the team)."""
    service = Service(team=team, name=single_line(name))
    apply_changes(service, fields or {}, fields=ServiceFields.__optional_keys__)
    service.full_clean()
    check_pager_mapping_free(service)
    service.save()
    audit_record(actor=by, verb="service.created", target=service, team=team)
    return service


@transaction.atomic
def service_update(*, service: Service, by: User, changes: ServiceFields) -> Service:
    """Change a service's operating model, on-call team, demand, sourcing, cost of delay or pager
    mappings (the caller has checked `can_edit_service`). Incidents already declared keep their
    model; a mapping another service holds is refused (`check_pager_mapping_free`)."""
    changed = apply_changes(service, changes, fields=ServiceFields.__optional_keys__)
    service.full_clean()
    check_pager_mapping_free(service)
    service.save()
    if changed:
        audit_record(
            actor=by,
            verb="service.updated",
            target=service,
            team=service.team,
            changes=audit_changes(changed),
        )
    return service


def team_people_set(team: Team, people: dict[str, Sequence[User] | None]) -> dict[str, list[str]]:
    diff = {}
    for relation, users in people.items():
        if users is None:
            continue
        before = sorted(getattr(team, relation).values_list("username", flat=True))
        getattr(team, relation).set(users)
        after = sorted(user.username for user in users)
        if before != after:
            diff[relation] = [", ".join(before), ", ".join(after)]
    return diff


@transaction.atomic
def team_create(
    *,
    by: User,
    name: str,
    members: Sequence[User] = (),
    product_managers: Sequence[User] = (),
    fields: TeamFields | None = None,
) -> Team:
    """A new product team (the caller has checked `can_edit_team`)."""
    team = Team(name=single_line(name))
    apply_changes(team, fields or {}, fields=TeamFields.__optional_keys__)
    team.slug = slugify(team.name)[:100]
    team.full_clean()
    team.save()
    team_people_set(team, {"members": members, "product_managers": product_managers})
    audit_record(actor=by, verb="team.created", target=team, team=team)
    return team


@transaction.atomic
def team_update(
    *,
    team: Team,
    by: User,
    changes: TeamFields,
    members: Sequence[User] | None = None,
    product_managers: Sequence[User] | None = None,
) -> Team:
    """Change a team's name, people or tracker settings (the caller has checked `can_edit_team`)."""
    changes = changes.copy()
    if "name" in changes:
        changes["name"] = single_line(changes["name"])
    diff = audit_changes(apply_changes(team, changes, fields=TeamFields.__optional_keys__))
    team.full_clean()
    team.save()
    diff |= team_people_set(team, {"members": members, "product_managers": product_managers})
    if diff:
        audit_record(actor=by, verb="team.updated", target=team, team=team, changes=diff)
    return team


# A reminder reaches the analyst this long before their session is due.
ANALYSIS_REMINDER_BEFORE = timedelta(hours=24)
# Overdue sessions are looked at for this long after their due time; the beat runs far more often,
# so every one is noted, and the scan stays bounded whatever the history.
ANALYSIS_OVERDUE_WINDOW = timedelta(days=7)


def analysis_reminders_queue(*, now: datetime | None = None) -> int:
    """The time-box with teeth: remind each analyst of an open session due within
    ANALYSIS_REMINDER_BEFORE, and tell the incident team's product managers of each session past its
    due time. Each is an outbox email keyed by session, due time and recipient, so it is sent exactly
    once however often this runs, and a session given a new due time is reminded again.

    Returns how many emails were queued.
    """
    now = now or timezone.now()
    open_sessions = (
        AnalysisSession.objects.exclude(status=AnalysisSession.Status.SUBMITTED)
        .select_related("incident__team", "analyst")
        .order_by("due_at", "id")
    )
    queued = 0
    for session in open_sessions.filter(due_at__gt=now, due_at__lte=now + ANALYSIS_REMINDER_BEFORE):
        with transaction.atomic():
            queued += bool(
                notification_queue(
                    key=f"analysis-due:{session.pk}:{session.due_at.isoformat()}",
                    recipient=session.analyst,
                    subject=f"Your analysis of {session.incident.title} is due {session.due_at:%-d %b %H:%M %Z}",
                    body=(
                        f"Your time-boxed analysis of {session.incident.title} ({session.allocated_minutes} min "
                        f"allocated, {session.time_spent_minutes} spent so far) is due "
                        f"{session.due_at:%-d %b %Y %H:%M %Z}.\n\n"
                        f"{absolute_url(session.get_absolute_url())}\n"
                    ),
                )
            )
    overdue = open_sessions.filter(due_at__lte=now, due_at__gt=now - ANALYSIS_OVERDUE_WINDOW)
    for session in overdue.prefetch_related("incident__team__product_managers"):
        for manager in session.incident.team.product_managers.all():
            with transaction.atomic():
                queued += bool(
                    notification_queue(
                        key=f"analysis-overdue:{session.pk}:{session.due_at.isoformat()}:{manager.pk}",
                        recipient=manager,
                        subject=f"Analysis overdue: {session.analyst} on {session.incident.title}",
                        body=(
                            f"{session.analyst}'s analysis of {session.incident.title} was due "
                            f"{session.due_at:%-d %b %Y %H:%M %Z} and is not submitted yet "
                            f"({session.time_spent_minutes} of {session.allocated_minutes} min spent).\n\n"
                            f"{absolute_url(session.incident.get_absolute_url())}\n"
                        ),
                    )
                )
    return queued
