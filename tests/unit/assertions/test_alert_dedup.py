"""``alerts.dedup``: duplicates within the repeat interval, per-episode counts, the reduction."""

from __future__ import annotations

import dataclasses

from assertions.backends.sink import Notification
from assertions.checks.alert_dedup import evaluate_dedup
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import Status
from tests.unit.assertions.alert_support import NET_KEY, net, webhook

HOUR = 3600.0


def slack(at: float, title: str, text: str = "") -> Notification:
    payload = {"channel": "#oncall", "attachments": [{"title": title, "text": text}]}
    return Notification(at, payload, receiver="slack", title=title)


def email(at: float, subject: str, text: str) -> Notification:
    payload = {"subject": subject, "text": text, "to": "oncall@restaurant.test"}
    return Notification(at, payload, receiver="email", title=subject)


def test_a_lifecycle_without_repeats_passes_with_counts_and_the_reduction() -> None:
    notes = [
        webhook(1002.0, net("eth0", 1000.0), net("eth1", 1000.0)),
        webhook(1007.0, net("eth0", 1000.0, "resolved"), net("eth1", 1000.0)),
        webhook(1012.0, net("eth0", 1000.0, "resolved"), net("eth1", 1000.0, "resolved")),
        slack(1002.0, "[FIRING:2] NetworkHighErrorRate gateway (critical)"),
        slack(1007.0, "[FIRING:1] NetworkHighErrorRate gateway (critical)"),
        slack(1012.0, "[RESOLVED] NetworkHighErrorRate gateway (critical)"),
    ]
    result = evaluate_dedup(notes, HOUR, received_total=40.0, sent_total=6.0)
    assert result.passed and result.name == "alerts.dedup"
    assert result.observed == {
        "notifications": 6,
        "duplicates": 0,
        "undecided": 0,
        "received_total": 40.0,
        "sent_total": 6.0,
        "reduction": 0.85,
    }
    counts = result.evidence["counts"]
    eth0 = next(row for row in counts if row.get("fingerprint") == "fp-eth0")
    assert (eth0["receiver"], eth0["firing"], eth0["resolved"]) == ("oncall", 1, 2)
    eth1 = next(row for row in counts if row.get("fingerprint") == "fp-eth1")
    assert (eth1["firing"], eth1["resolved"]) == (2, 1)
    text = next(row for row in counts if row["integration"] == "slack")
    assert text == {
        "integration": "slack",
        "group": "NetworkHighErrorRate gateway (critical)",
        "firing": 2,
        "resolved": 1,
    }


def test_the_same_webhook_content_again_within_the_repeat_interval_fails() -> None:
    first = webhook(1002.0, net("eth0", 1000.0), net("eth1", 1000.0))
    again = webhook(1007.0, net("eth1", 1000.0), net("eth0", 1000.0))  # order does not matter
    result = evaluate_dedup([first, again], HOUR, None, None)
    assert result.status is Status.FAILED
    assert result.reason == (
        "1 duplicate notification(s) within the repeat interval of 3600 s; first: webhook got "
        f"group {NET_KEY} again 5.0 s after the same notification"
    )
    assert result.evidence["duplicates"][0]["previous_at"] == 1002.0
    # once the repeat interval passed, the same content is Alertmanager's reminder
    assert evaluate_dedup([first, again], 5.0, None, None).passed


def test_a_change_in_between_makes_a_repeat_legitimate() -> None:
    notes = [
        webhook(1002.0, net("eth0", 1000.0)),
        webhook(1007.0, net("eth0", 1000.0, "resolved")),
        webhook(1032.0, net("eth0", 1030.0)),  # the same alert firing again: a new episode
    ]
    assert evaluate_dedup(notes, HOUR, None, None).passed
    other_group = webhook(1003.0, net("eth0", 1000.0), key="{}:{other}")
    assert evaluate_dedup([notes[0], other_group], HOUR, None, None).passed


def test_text_receivers_compare_title_and_text_per_group() -> None:
    title = "[FIRING:1] UsersServiceDown users (critical)"
    assert evaluate_dedup(
        [slack(1006.0, title), slack(1011.0, title)], HOUR, None, None
    ).status is (Status.FAILED)
    changed = [slack(1006.0, title, "a"), slack(1011.0, title, "b")]
    assert evaluate_dedup(changed, HOUR, None, None).passed
    mails = [email(1006.0, title, "body"), email(1011.0, title, "body")]
    result = evaluate_dedup(mails, HOUR, None, None)
    assert result.status is Status.FAILED
    assert result.evidence["duplicates"][0]["group"] == "UsersServiceDown users (critical)"
    # the same text to another integration is no duplicate
    assert evaluate_dedup([slack(1006.0, title), email(1006.5, title, "")], HOUR, None, None).passed


def test_the_reduction_is_none_with_its_reason_when_unknown() -> None:
    unknown = evaluate_dedup([], HOUR, None, 3.0, counters_error="prometheus at x: HTTP 503")
    # counters that could not be read leave the check unobserved: an error naming prometheus
    assert unknown.status is Status.ERROR
    assert unknown.reason == "the reduction is unknown: prometheus at x: HTTP 503"
    assert unknown.observed["reduction"] is None
    assert unknown.observed["reduction_note"] == "prometheus at x: HTTP 503"
    nothing = evaluate_dedup([], HOUR, 0.0, 0.0)
    assert nothing.observed["reduction"] is None
    assert "received 0 alerts" in nothing.observed["reduction_note"]
    assert evaluate_dedup([], HOUR, 3.0, 1.0).observed["reduction"] == 0.6667


def test_the_same_text_for_a_new_episode_is_no_duplicate() -> None:
    # two episodes of one group, 600 s apart, resolve with the very same Slack text
    title = "[RESOLVED] DatabaseTooManyConnections users (warning)"
    notes = [slack(1000.0, title), slack(1600.0, title)]
    assert evaluate_dedup(notes, HOUR, None, None).status is Status.FAILED
    between = AlertObservations(
        episodes=(
            AlertEpisode(
                fingerprint="fp-users",
                labels={"alertname": "DatabaseTooManyConnections", "service": "users"},
                starts_at=1500.0,
                first_seen=1500.5,
                last_seen=1580.0,
                ends_at=None,
                state="active",
                resolved_at=1590.0,
            ),
        )
    )
    assert evaluate_dedup(notes, HOUR, None, None, observations=between).passed
    # an episode of another alert in between changes nothing
    other = AlertObservations(
        episodes=tuple(
            dataclasses.replace(e, labels={"alertname": "NodeHighCPU"}) for e in between.episodes
        )
    )
    result = evaluate_dedup(notes, HOUR, None, None, observations=other)
    assert result.status is Status.FAILED
