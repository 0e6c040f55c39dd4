"""Organisation-wide broadcast of published narratives: one module per channel.

services.py writes the outbox (one Delivery per channel and recipient) in the publish transaction;
tasks.py claims and sends through dispatch.py; email.py, slack.py, teams.py and webhook.py build each
channel's payload (pure) beside the call that sends it.
"""
