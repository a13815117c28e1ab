from __future__ import annotations

from pathlib import Path

import pytest

from muster.integrations.qualtrics.tests.recorded import RECORDED, recorded_path


def test_a_missing_recording_skips_on_a_developers_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not in"):
        recorded_path("kyma-connector-tools__POST_API_v3_eventsubscriptions.json", tmp_path / "missing")


def test_a_missing_recording_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        recorded_path("kyma-connector-tools__POST_API_v3_eventsubscriptions.json", tmp_path / "missing")


def test_the_recordings_are_where_ci_expects_them() -> None:
    # Under CI=true this fails when ../shared/qualtrics/recorded/ is not there at all.
    assert recorded_path("kyma-connector-tools__POST_API_v3_eventsubscriptions.json").parent == RECORDED
