"""Event rules: which changes of a source's shown label become events (``postprocess/events.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from streamcls.config.fields import bounded, key_path
from streamcls.errors import ConfigError


@dataclass(frozen=True)
class LabelRuleConfig:
    """Rules for one label, overriding the general ones (``events.per_label: [{label: truck, ...}]``)."""

    label: str = ""
    min_score: float | None = bounded(None, 0.0, 1.0)
    min_duration_s: float | None = bounded(None, 0.0, 86_400.0)
    cooldown_s: float | None = bounded(None, 0.0, 86_400.0)

    def check(self, path: str) -> None:
        if not self.label:
            raise ConfigError(f"{key_path(path, 'label')}: missing; expected the label these rules are for")


@dataclass(frozen=True)
class LabelRule:
    """The rules in force for one label: its own entry's values where set, else the general ones."""

    min_score: float
    min_duration_s: float
    cooldown_s: float


@dataclass(frozen=True)
class EventsConfig:
    """When a change of the shown label is an event.

    ``labels``: only these labels make events (empty: every label); ``ignore``:
    these never do. ``min_score``: the new label's mean shown score over the
    frames that confirmed it. ``min_duration_s``: a new label counts only once it
    has been shown this long (in stream time), so a short blip fires nothing and
    the label before it carries on. ``cooldown_s``: after an event of a label on a
    source, another of the same label on that source within this time is
    suppressed. ``max_per_minute``: all sources together (the excess is suppressed
    and counted). ``first_label``: whether a source's first label is an event.
    ``snapshot``: attach a JPEG of the frame that started the label, at most
    ``snapshot_width`` pixels wide. ``per_label``: the same rules for one label.
    A source's own ``events:`` (under ``sources:``) replaces these for that source.
    """

    labels: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    min_score: float = bounded(0.0, 0.0, 1.0)
    min_duration_s: float = bounded(0.5, 0.0, 86_400.0)
    cooldown_s: float = bounded(0.0, 0.0, 86_400.0)
    max_per_minute: float = bounded(600.0, 0.01, 1_000_000.0)
    first_label: bool = True
    snapshot: bool = False
    snapshot_width: int = bounded(320, 16, 4096)
    per_label: tuple[LabelRuleConfig, ...] = ()

    def check(self, path: str) -> None:
        both = sorted(set(self.labels) & set(self.ignore))
        if both:
            raise ConfigError(
                f"{key_path(path, 'ignore')}: {', '.join(both)} also listed in labels; a label "
                f"is either allowed or ignored, so remove it from one list"
            )
        named = [rule.label for rule in self.per_label]
        repeated = sorted({label for label in named if named.count(label) > 1})
        if repeated:
            raise ConfigError(
                f"{key_path(path, 'per_label')}: {', '.join(repeated)} given more than once; give each label one entry"
            )

    def rule(self, label: str) -> LabelRule:
        """The rules that apply to ``label``."""
        own = next((rule for rule in self.per_label if rule.label == label), None)

        def pick(name: str) -> float:
            value = getattr(own, name, None) if own is not None else None
            return float(getattr(self, name) if value is None else value)

        return LabelRule(pick("min_score"), pick("min_duration_s"), pick("cooldown_s"))
