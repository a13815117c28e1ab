"""What other apps add to people's pages: tabs on a person's profile, and targets of the People
list's "Add to …" action.

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


profile_tabs: dict[str, ProfileTab] = {}
add_targets: dict[str, AddTarget] = {}


def register_tab(tab: ProfileTab) -> None:
    profile_tabs[tab.key] = tab


def register_target(target: AddTarget) -> None:
    add_targets[target.kind] = target
