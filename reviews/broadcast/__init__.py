"""Organisation-wide broadcast of published narratives: one module per channel.

- services.py writes the outbox (one Delivery per channel and recipient) in the publish transaction,
  retries failed rows and records opt-outs; selectors.py says who receives a publication and how
  far its delivery has got;
- tasks.py (Celery) claims and sends through dispatch.py, which classifies failures, schedules
  retries and reconciles lost or stuck rows;
- content.py says what every channel says; email.py, slack.py, teams.py, webhook.py and
  confluence.py build each channel's payload (pure) beside the call that sends it.
"""
