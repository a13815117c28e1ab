from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from muster.accounts.models import ApiToken, User, normalise_email
from muster.accounts.roles import Capability, can


class Command(BaseCommand):
    help = "Creates an API token for a user and prints it once; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email=normalise_email(options["email"])).first()
        if user is None:
            raise CommandError(f"No user has the email {options['email']}.")
        if not can(user, Capability.OWN_API_TOKENS):
            raise CommandError(f"The role {user.role} may not own API tokens.")
        _, raw = ApiToken.issue(user, options["name"])
        self.stdout.write(raw)
