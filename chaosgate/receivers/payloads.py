"""What Alertmanager's integrations post, as the receivers accept it: anything else is a 400.

Shapes as Alertmanager (0.25 and later) sends them; fields chaosgate does not read are
allowed and kept, so a newer Alertmanager's additions pass:

- webhook (``notify/webhook``, message version 4): ``version``, ``groupKey``, ``status``,
  ``receiver``, ``groupLabels``, ``commonLabels``, ``commonAnnotations`` and at least one
  alert, each with its ``status``, ``labels``, ``annotations`` and ``startsAt``;
- Slack (``notify/slack``): ``attachments``, at least one object, whose ``title`` (omitted by
  Alertmanager when empty) is a string;
- a mail the SMTP receiver parsed (``POST /email``): its arrival time and headers.

Each ``*_problem`` function answers ``""`` for an accepted body, else one line saying which
field is wrong (never the posted values).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictStr
from pydantic import ValidationError as PydanticValidationError

__all__ = ["mail_problem", "slack_problem", "webhook_problem"]

Status = Literal["firing", "resolved"]
Labels = dict[StrictStr, StrictStr]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class WebhookAlert(_Shape):
    status: Status
    labels: Labels
    annotations: Labels
    startsAt: StrictStr  # Alertmanager's field names


class WebhookMessage(_Shape):
    version: StrictStr
    groupKey: StrictStr
    status: Status
    receiver: StrictStr
    groupLabels: Labels
    commonLabels: Labels
    commonAnnotations: Labels
    alerts: Annotated[list[WebhookAlert], Field(min_length=1)]


class SlackAttachment(_Shape):
    title: StrictStr = ""


class SlackMessage(_Shape):
    attachments: Annotated[list[SlackAttachment], Field(min_length=1)]


class ParsedMail(_Shape):
    received_at_unix: StrictFloat  # an int is accepted too, a bool is not
    subject: StrictStr
    to: list[StrictStr] = []
    text: StrictStr = ""
    html: StrictStr = ""
    message_id: StrictStr = ""
    sender: Annotated[StrictStr, Field(alias="from")] = ""


def _problem(model: type[BaseModel], body: Any, what: str) -> str:
    if not isinstance(body, dict):
        return f"expected a JSON object body ({what})"
    try:
        model.model_validate(body)
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"not {what}: {where}: {first['msg']}{more}"
    return ""


def webhook_problem(body: Any) -> str:
    """Why ``body`` is not an Alertmanager webhook message ("" when it is one)."""
    return _problem(WebhookMessage, body, "an Alertmanager webhook message")


def slack_problem(body: Any) -> str:
    """Why ``body`` is not what Alertmanager's ``slack_configs`` post ("" when it is)."""
    return _problem(SlackMessage, body, "an Alertmanager Slack message")


def mail_problem(body: Any) -> str:
    """Why ``body`` is not a mail parsed by ``chaosgate sink smtp`` ("" when it is one)."""
    return _problem(ParsedMail, body, "a mail parsed by `chaosgate sink smtp`")
