"""The failure alert: an automation that notifies when a bluegreen flow run fails.

It fires on the flow-run events Failed, Crashed and TimedOut of any flow whose name starts with
``bluegreen-``. Cancelled runs (a second sync stopped by the concurrency guard or by the
deployment's CANCEL_NEW limit) are not failures and do not page anyone.

The automation is created idempotently: running this again updates the one automation of that
name in place (same id) instead of adding a second one, so it can run on every deploy::

    python -m flows.alerts --webhook https://hooks.example.com/bluegreen
    python -m flows.alerts --block slack-webhook/ops     # any saved notification block
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from uuid import UUID

from prefect.automations import Automation
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture

from bluegreen.errors import ConfigError

AUTOMATION_NAME = "bluegreen: flow run failed"
DEFAULT_BLOCK = "bluegreen-alerts"
FLOW_PATTERN = "bluegreen-*"
FAILURE_EVENTS = frozenset(
    {"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"}
)

SUBJECT = "bluegreen: {{ flow.name }} run {{ flow_run.name }} {{ flow_run.state.name }}"
BODY = (
    "Flow {{ flow.name }}, run {{ flow_run.name }} "
    "{% if deployment %}(deployment {{ deployment.name }}) {% endif %}"
    "ended {{ flow_run.state.name }}:\n{{ flow_run.state.message }}\n"
    "flow run id {{ flow_run.id }}"
    "{% set link = flow_run|ui_url %}{% if link %}\n{{ link }}{% endif %}"
)


def save_webhook_block(url: str, name: str = DEFAULT_BLOCK) -> UUID:
    """A Custom Webhook notification block that POSTs JSON {subject, body} to ``url``."""
    block = CustomWebhookNotificationBlock(
        name=name,
        url=url,
        method="POST",
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
    )
    return block.save(name, overwrite=True)


def _block_id(block: str | UUID) -> UUID:
    if isinstance(block, UUID):
        return block
    if "/" not in block:
        raise ConfigError(
            f"notification block {block!r} is not of the form <block-type-slug>/<name>",
            fix="e.g. custom-webhook/bluegreen-alerts or slack-webhook/ops",
        )
    try:
        loaded = Block.load(block)
    except ValueError as exc:
        raise ConfigError(
            f"notification block {block!r} not found: {exc}",
            fix="create it in the UI (Blocks), or pass --webhook URL to create one",
        ) from None
    if "notify" not in loaded.get_block_capabilities() or loaded._block_document_id is None:
        raise ConfigError(
            f"block {block!r} cannot send notifications",
            fix="use a notification block (Custom Webhook, Slack, Teams, PagerDuty, e-mail, ...)",
        )
    return loaded._block_document_id


def failure_automation(block_document_id: UUID, name: str = AUTOMATION_NAME) -> Automation:
    """The automation as it should be (not saved)."""
    return Automation(
        name=name,
        description=(
            "Notifies when a bluegreen flow run fails, crashes or times out "
            "(cancelled runs, e.g. a second sync stopped by the concurrency guard, do not alert)."
        ),
        enabled=True,
        trigger=EventTrigger(
            expect=set(FAILURE_EVENTS),
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOW_PATTERN},
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=dt.timedelta(0),
        ),
        actions=[SendNotification(block_document_id=block_document_id, subject=SUBJECT, body=BODY)],
    )


def ensure_failure_automation(
    block: str | UUID = f"custom-webhook/{DEFAULT_BLOCK}", name: str = AUTOMATION_NAME
) -> Automation:
    """Create the failure automation, or bring the existing one of ``name`` up to date.

    ``block`` is a notification block's document id or ``<type-slug>/<name>``. Extra automations
    of the same name (left by a race) are deleted, so exactly one remains.
    """
    wanted = failure_automation(_block_id(block), name)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name=name)
    if not existing:
        return wanted.create()
    keep, *extra = sorted(existing, key=lambda a: str(a.id))
    for automation in extra:
        Automation(**automation.model_dump()).delete()
    wanted.id = keep.id
    if keep.model_dump(exclude={"id", "owner_resource"}) != wanted.model_dump(
        exclude={"id", "owner_resource"}
    ):
        wanted.update()
    return wanted


def main(argv: list[str] | None = None) -> int:
    """Create or update the failure automation (and, with --webhook, its webhook block)."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.alerts", description="Alert on failed bluegreen flow runs."
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--webhook",
        default=os.environ.get("BLUEGREEN_ALERT_WEBHOOK"),
        help="URL to POST alerts to (saved as the Custom Webhook block 'bluegreen-alerts'); "
        "default $BLUEGREEN_ALERT_WEBHOOK",
    )
    target.add_argument("--block", help="an existing notification block, <type-slug>/<name>")
    parser.add_argument("--name", default=AUTOMATION_NAME, help="automation name")
    args = parser.parse_args(argv)
    try:
        if args.block:
            block: str | UUID = args.block
        elif args.webhook:
            block = save_webhook_block(args.webhook)
        else:
            raise ConfigError(
                "no notification target",
                fix="pass --webhook URL (or set BLUEGREEN_ALERT_WEBHOOK), or --block type/name",
            )
        automation = ensure_failure_automation(block, args.name)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"automation {automation.name!r} ({automation.id}) notifies on failed bluegreen runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
