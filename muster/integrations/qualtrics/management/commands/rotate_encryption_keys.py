from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from muster.crypto import rotate
from muster.integrations.qualtrics.models import QualtricsConnection


class Command(BaseCommand):
    help = (
        "Re-encrypts every stored secret under the first key of MUSTER_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            # A disconnected connection holds no secrets any more: nothing to re-encrypt.
            for connection in QualtricsConnection.objects.select_for_update().exclude(token_encrypted=""):
                connection.token_encrypted = rotate(connection.token_encrypted)
                if connection.shared_key_encrypted:
                    connection.shared_key_encrypted = rotate(connection.shared_key_encrypted)
                connection.save(update_fields=["token_encrypted", "shared_key_encrypted"])
                count += 1
        self.stdout.write(f"Re-encrypted the secrets of {count} connection(s) under the first key.")
