"""Early warnings ("the community brain"): rules configured without code, evaluated over the store.

A rule set comes from ``rules.toml`` (or, once an admin stores one, from the ``rules`` setting every
process shares). ``evaluate`` runs every rule at a given instant (the clock is a parameter, so tests
control it), raises at most one open warning per rule and place, and optionally gives the grid's
worker a verification visit. Warnings are acknowledged and resolved like items, each step an event.

The package holds, along its seams:
- ``rules``: rule types and their parameters, parsing, the rules file and the stored setting;
- ``detectors``: one detector per rule type, the ``DETECTORS`` registry;
- ``engine``: ``evaluate`` (run the detectors, store warnings and visits) and the timer thread;
- ``handling``: acknowledge and resolve a warning.

Callers import from ``ops.early_warning``; the names below are its public face.
"""

from ops.early_warning.detectors import DETECTORS, Finding
from ops.early_warning.engine import ACTOR, ITEM_LANG, RESOLVED_HORIZON, evaluate, start_in_thread
from ops.early_warning.handling import WARNING_ROLES, acknowledge, resolve
from ops.early_warning.rules import (
    COMMON,
    HIGHEST,
    LEVELS,
    PARAMS,
    REQUIRED,
    SETTING,
    Rule,
    current_rules,
    load_file,
    parse_rules,
    save_rules,
)

__all__ = [
    "ACTOR",
    "COMMON",
    "DETECTORS",
    "HIGHEST",
    "ITEM_LANG",
    "LEVELS",
    "PARAMS",
    "REQUIRED",
    "RESOLVED_HORIZON",
    "SETTING",
    "WARNING_ROLES",
    "Finding",
    "Rule",
    "acknowledge",
    "current_rules",
    "evaluate",
    "load_file",
    "parse_rules",
    "resolve",
    "save_rules",
    "start_in_thread",
]
