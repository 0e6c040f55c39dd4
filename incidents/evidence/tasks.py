"""Celery tasks for evidence: thin adapters over `incidents.evidence.imports` and the retention purge."""

from celery import shared_task

from incidents.evidence.imports import SLACK_IMPORTS, slack_import_run
from incidents.evidence.services import evidence_purge


@shared_task(acks_late=True, ignore_result=True)
def slack_import_task(import_id: int) -> str:
    """Import one Slack channel; a duplicate delivery finds the job claimed and does nothing."""
    return slack_import_run(import_id=import_id)


@shared_task(ignore_result=True)
def slack_imports_reconcile_task() -> int:
    """Beat: re-enqueue imports the broker lost and hand back those whose worker died."""
    return SLACK_IMPORTS.reconcile()


@shared_task(ignore_result=True)
def evidence_purge_task() -> int:
    """Beat: delete chat transcripts past EVIDENCE_RETENTION_DAYS, keeping promoted messages."""
    return evidence_purge()
