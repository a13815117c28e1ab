"""What other apps add to people's pages: tabs on a person's profile, targets of the People
list's "Add to …" action, and the steps of the getting-started checklist above the People list
(the home page).

`people` imports none of the apps that build on it (DESIGN §3), so they register here from their
AppConfig.ready(): `studies` adds the Studies tab and adding people to a study; `surveys` will
add the Responses tab.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest

from muster.people.models import Person


@dataclass(frozen=True)
class ProfileTab:
    key: str  # ?tab=<key>
    label: str
    # Rendered inside the profile with `person`, `can` and whatever `context` returns; `context`
    # runs only when the tab is open.
    template: str
    context: Callable[[HttpRequest, Person], dict[str, Any]]
    # One line of the Overview: (term, text), e.g. ("Studies", "2").
    summary: Callable[[HttpRequest, Person], tuple[str, str]] | None = None


@dataclass(frozen=True)
class AddTarget:
    """Something the People list adds the chosen people to; the form sends `<kind>:<code>`."""

    kind: str
    group: str  # the heading of its choices, e.g. "Studies"
    noun: str  # e.g. "a study", in "Choose a panel or a study."
    # What this user may add people to, as (code, name); None when their role may not.
    choices: Callable[[HttpRequest], list[tuple[UUID, str]] | None]
    # Adds the people to the target with this code (checking the user's role first) and says
    # what happened through django.contrib.messages.
    add: Callable[[HttpRequest, UUID, QuerySet[Person]], None]


@dataclass(frozen=True)
class FirstStep:
    """One step of the getting-started checklist; it ticks itself off when `done` says so."""

    order: int
    title: str
    how: str
    url: Callable[[], str]
    done: Callable[[], bool]
    # Shown to users whose role may take it: a function of the user.
    offered: Callable[[Any], bool]


profile_tabs: dict[str, ProfileTab] = {}
add_targets: dict[str, AddTarget] = {}
first_steps: list[FirstStep] = []


def register_tab(tab: ProfileTab) -> None:
    profile_tabs[tab.key] = tab


def register_target(target: AddTarget) -> None:
    add_targets[target.kind] = target


def register_first_step(step: FirstStep) -> None:
    if step not in first_steps:
        first_steps.append(step)
        first_steps.sort(key=lambda s: s.order)


def first_steps_for(user: Any) -> list[tuple[FirstStep, bool]]:
    """(step, done) for the steps this user may take; empty once every one of them is done."""
    steps = [(s, s.done()) for s in first_steps if s.offered(user)]
    return [] if all(done for _, done in steps) else steps
