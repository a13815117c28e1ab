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
        ("MUSTER_KEEP_UPLOADS_DAYS", "a week"),
        ("MUSTER_KEEP_UPLOADS_DAYS", "-1"),
        ("MUSTER_EMAIL_URL", "pigeon://coop"),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "https://evil.example/path"),
        ("DATABASE_URL", "mysql://root@localhost/muster"),
        # Every process would have a database of its own, empty.
        ("DATABASE_URL", "sqlite://"),
        ("DATABASE_URL", "sqlite:///:memory:"),
        # Each process would open the file relative to where it was started.
        ("DATABASE_URL", "sqlite:///muster.sqlite3"),
        ("DATABASE_URL", "sqlite:////nonexistent-dir/muster.sqlite3"),
        ("DATABASE_URL", "postgres://"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:port/muster"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:99999/muster"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:0/muster"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "postgres//postgres@127.0.0.1/muster"),
        ("MUSTER_PUBLIC_URL", "http://muster .example.org"),
        ("MUSTER_PUBLIC_URL", "https://muster.example.org:99999"),
        ("MUSTER_PUBLIC_URL", "https://muster.example.org:https"),
        ("MUSTER_PUBLIC_URL", "https://muster.example.org:0"),
        ("MUSTER_PUBLIC_URL", "https://user:pass@muster.example.org"),
        ("MUSTER_PUBLIC_URL", "https://muster.example.org/muster"),
        ("MUSTER_PUBLIC_URL", "https://muster.example.org?x=1"),
        ("MUSTER_PUBLIC_URL", "https://muster..example.org"),
        ("MUSTER_PUBLIC_URL", ""),
        # A wildcard must leave at least two labels: *.com would send tokens to any .com host.
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "*.com"),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "*.qualtrics.com,*."),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "*.qualtrics.com:443"),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "127.0.0.1:port"),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "127.0.0.1:70000"),
        ("MUSTER_QUALTRICS_ALLOWED_HOSTS", "iad1..qualtrics.com"),
        ("MUSTER_FROM_EMAIL", "research"),
        ("MUSTER_FROM_EMAIL", "research@"),
        ("MUSTER_FROM_EMAIL", "a@b@example.org"),
        ("MUSTER_FROM_EMAIL", "Research <research@example.org"),
        ("MUSTER_FROM_EMAIL", "research@example.org\nBcc: everyone@example.org"),
        ("MUSTER_FROM_EMAIL", ""),
        ("MUSTER_DATA_DIR", ""),
        ("MUSTER_REDIS_URL", "redis://127.0.0.1:port/0"),
        ("MUSTER_REDIS_URL", "redis://"),
        ("MUSTER_REDIS_URL", "memcached://127.0.0.1"),
        ("MUSTER_EMAIL_URL", "file://"),
        ("MUSTER_EMAIL_URL", "smtp://mail.example.org:0"),
        ("MUSTER_SECRET_KEY", " "),
        ("MUSTER_SECRET_KEY", "short"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    result = start_django({name: value}, tmp_path)
    assert result.returncode != 0, f"{name}={value!r} was accepted"
    last = result.stderr.splitlines()[-1]
    assert name in last, result.stderr
    assert "ImproperlyConfigured" in last, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "postgres://muster:s3cret-pw@db:port/muster"),
        ("MUSTER_PUBLIC_URL", "https://me:s3cret-pw@x.org"),
    ],
)
def test_a_bad_address_with_a_password_is_not_echoed(tmp_path: Path, name: str, value: str) -> None:
    result = start_django({name: value}, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr.splitlines()[-1]
    assert "s3cret-pw" not in result.stderr


def test_good_values_start(tmp_path: Path) -> None:
    good = {
        "MUSTER_PUBLIC_URL": "https://Muster.Example.org:8443/",
        "MUSTER_QUALTRICS_ALLOWED_HOSTS": "*.qualtrics.com, iad1.qualtrics.com ,127.0.0.1:8100,localhost",
        "MUSTER_FROM_EMAIL": "Muster Research <research@example.org>",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}",
        "MUSTER_REDIS_URL": "redis://127.0.0.1:6379/5",
        "MUSTER_SECRET_KEY": "x" * 50,
    }
    result = start_django(good, tmp_path)
    assert result.returncode == 0, result.stderr
    assert start_django({"MUSTER_PUBLIC_URL": "http://[::1]:8000"}, tmp_path).returncode == 0
    assert start_django({"MUSTER_REDIS_URL": ""}, tmp_path).returncode == 0, "empty is unset, as documented"


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory this process cannot create files in: read-only for a user; for root (who
    ignores permission bits) sysfs, which refuses root too."""
    if os.geteuid() == 0:
        return Path("/sys")
    path = tmp_path / "read-only"
    path.mkdir(mode=0o555)
    return path


@pytest.mark.parametrize("where", ["read-only", "under-a-file"])
def test_an_unwritable_data_dir_stops_start_up_naming_it(tmp_path: Path, where: str) -> None:
    if where == "read-only":
        data_dir = unwritable_directory(tmp_path)
    else:
        (tmp_path / "a-file").write_text("")
        data_dir = tmp_path / "a-file" / "data"
    result = start_django({"MUSTER_DATA_DIR": str(data_dir)}, tmp_path)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "MUSTER_DATA_DIR" in last, result.stderr
    assert "ImproperlyConfigured" in last, result.stderr


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
