"""What other apps add to a study's page: its tabs beside the Overview.

`studies` imports none of the apps that build on it (DESIGN §3), so they register here from their
AppConfig.ready(): `surveys` adds the Screener and Survey steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from muster.studies.models import Study


@dataclass(frozen=True)
class StudyTab:
    key: str  # what the tab's page passes as `tab` to mark itself current
    label: str
    url: Callable[[Study], str]
    order: int = 0


study_tabs: list[StudyTab] = []


def register_tab(tab: StudyTab) -> None:
    if all(t.key != tab.key for t in study_tabs):
        study_tabs.append(tab)
        study_tabs.sort(key=lambda t: t.order)


def tabs_for(study: Study, current: str = "") -> list[tuple[str, str, bool]]:
    """(label, url, is current) of the study's tabs, the Overview first."""
    from django.urls import reverse

    overview = ("Overview", reverse("study", args=[study.code]), current == "")
    return [overview] + [(t.label, t.url(study), t.key == current) for t in study_tabs]
