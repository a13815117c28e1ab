from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from muster import config

ROOT = Path(__file__).resolve().parents[2]


def start_django(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
    full_env.update({"MUSTER_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "muster.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_with_the_defaults(tmp_path: Path) -> None:
    result = start_django({}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").read_text().strip()
    assert (tmp_path / "encryption_keys").read_text().strip()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MUSTER_DEBUG", "yes"),
        ("MUSTER_PUBLIC_URL", "ftp://example.org"),
        ("MUSTER_ENCRYPTION_KEYS", "not-a-key"),
        ("MUSTER_QUALTRICS_CALLS_PER_MINUTE", "many"),
        ("MUSTER_EMAIL_URL", "pigeon://coop"),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "https://evil.example/path"),
        ("DATABASE_URL", "mysql://root@localhost/muster"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    result = start_django({name: value}, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr.splitlines()[-1]


def test_envbool_accepts_only_true_and_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "True")
    assert config.envbool("X_FLAG", "False") is True
    monkeypatch.setenv("X_FLAG", "1")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        config.envbool("X_FLAG", "False")


def test_a_secret_is_read_from_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "s").write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET", "from-the-env")
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "s"))
    assert config.envsecret("X_SECRET") == "from-a-file"


def test_an_unreadable_secret_file_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="X_SECRET_FILE"):
        config.envsecret("X_SECRET")


def test_email_urls_become_email_settings(tmp_path: Path) -> None:
    smtp = config.email_settings("smtp+tls://me%40x.org:p%40ss@mail.example.org:2525", tmp_path)
    assert smtp["EMAIL_HOST"] == "mail.example.org"
    assert smtp["EMAIL_PORT"] == 2525
    assert smtp["EMAIL_HOST_USER"] == "me@x.org"
    assert smtp["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert smtp["EMAIL_USE_TLS"] is True
    assert config.email_settings("", tmp_path)["EMAIL_FILE_PATH"] == str(tmp_path / "mail")
    assert str(config.email_settings("console://", tmp_path)["EMAIL_BACKEND"]).endswith("console.EmailBackend")


def _read_or_create(path: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(config.read_or_create(Path(path), config.new_fernet_key()))


def test_processes_racing_to_create_a_key_agree_on_one(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for attempt in range(10):
        path = tmp_path / f"key{attempt}"
        queue: multiprocessing.Queue[str] = ctx.Queue()
        processes = [ctx.Process(target=_read_or_create, args=(str(path), queue)) for _ in range(4)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(30)
        keys = {queue.get(timeout=5) for _ in processes}
        assert len(keys) == 1
        assert keys == {path.read_text().strip()}
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary files are left behind"
