from __future__ import annotations

import json
from pathlib import Path

from muster.front.storage import StaticStorage


def test_before_collectstatic_pages_name_static_files_as_they_are(tmp_path: Path) -> None:
    assert StaticStorage(location=tmp_path).url("muster.css") == "/static/muster.css"


def test_after_collectstatic_they_are_named_by_their_hash(tmp_path: Path) -> None:
    manifest = {"paths": {"muster.css": "muster.0123456789ab.css"}, "version": "1.1", "hash": "x"}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    assert StaticStorage(location=tmp_path).url("muster.css") == "/static/muster.0123456789ab.css"
