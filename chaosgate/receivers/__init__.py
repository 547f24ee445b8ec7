"""The notification sink's receivers: what Alertmanager's webhook, Slack and email
integrations deliver, recorded with its arrival time (``chaosgate sink``, ``chaosgate sink
smtp``).

- :mod:`~chaosgate.receivers.credential`: the token only Alertmanager holds, which every
  delivery must carry (bearer token over HTTP, SMTP AUTH for mail);
- :mod:`~chaosgate.receivers.payloads`: the shapes Alertmanager posts (anything else is a 400);
- :mod:`~chaosgate.receivers.store`: the record (memory + JSON-lines file) and its filters;
- :mod:`~chaosgate.receivers.http`: webhook, Slack-compatible and mail-recording endpoints,
  queries;
- :mod:`~chaosgate.receivers.mail`: a received mail, parsed;
- :mod:`~chaosgate.receivers.smtp`: the SMTP server handing each mail to the HTTP side;
- :mod:`~chaosgate.receivers.cli`: their commands, ``chaosgate sink`` and ``chaosgate sink smtp``.
"""

__all__: list[str] = []
