"""What a fault must cause in Alertmanager: :class:`ExpectedAlert`, an alert by name and labels."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ExpectedAlert"]


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert a fault must raise: its name, labels it must carry, and its deadline."""

    alertname: str
    labels: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float = 30.0
    # label name -> regular expression the whole value must match (Alertmanager's =~), for
    # labels whose exact value the experiment cannot know (a mount point under a temp dir)
    label_patterns: Mapping[str, str] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return (
            labels.get("alertname") == self.alertname
            and all(labels.get(name) == value for name, value in self.labels.items())
            and all(
                re.fullmatch(pattern, labels.get(name, "")) is not None
                for name, pattern in self.label_patterns.items()
            )
        )

    @property
    def title(self) -> str:
        """``Name`` or ``Name{a=b,c=~d}``: unique per expectation in result names."""
        pairs = [f"{name}={value}" for name, value in sorted(self.labels.items())]
        pairs += [f"{name}=~{value}" for name, value in sorted(self.label_patterns.items())]
        if not pairs:
            return self.alertname
        return f"{self.alertname}{{{','.join(pairs)}}}"
