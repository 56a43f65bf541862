"""The Windows rules the lab enforces, each with the public source that says Windows behaves so.

A lab that is kinder than Windows proves nothing, and a rule without a source cannot be checked
against Windows. Every place where the lab refuses something the way Windows would raises
``WindowsError_(..., rule="<id>")`` with an id registered here; tests check that every id has a
source and that deleting a rule makes a test fail.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Rule:
    """One documented Windows behaviour the lab enforces."""

    id: str
    summary: str
    # A learn.microsoft.com page, an IIS team test, a known issue, or a section of docs/ccs-behaviour.md.
    source: str


RULES: dict[str, Rule] = {}

# Rules switched off, as if deleted from the lab: only tests set this, to prove that each rule's test
# fails without it (tests/unit/test_lab_rules.py). Every raise site asks enforced() first.
DISABLED: set[str] = set()


def register(rule_id: str, summary: str, source: str) -> Rule:
    """Add a rule; an id is registered once."""
    if rule_id in RULES:
        raise ValueError(f"lab rule {rule_id!r} is registered twice")
    RULES[rule_id] = Rule(rule_id, summary, source)
    return RULES[rule_id]


def known(rule_id: str) -> str:
    """The id, after checking it is registered (so a typo in a raise site fails loudly)."""
    if rule_id not in RULES:
        raise KeyError(f"lab rule {rule_id!r} is not registered in iis_lab/rules.py")
    return rule_id


def enforced(rule_id: str) -> bool:
    """Whether the lab applies the rule now (always, unless a test switched it off); the id must be registered."""
    return known(rule_id) not in DISABLED
