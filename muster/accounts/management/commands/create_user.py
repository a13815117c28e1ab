from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from muster.accounts.models import User, normalise_email
from muster.accounts.roles import Role


class Command(BaseCommand):
    help = "Creates a user. The password comes from MUSTER_PASSWORD, else it is prompted for."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        email = normalise_email(options["email"])
        if User.objects.filter(email=email).exists():
            raise CommandError(f"A user with the email {email} already exists.")
        password = os.environ.get("MUSTER_PASSWORD") or ""
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        candidate = User(email=email, name=options["name"])
        try:
            validate_password(password, candidate)
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from None
        user = User.objects.create_user(email, password, name=options["name"], role=options["role"])
        self.stdout.write(f"Created {user.email} with the role {user.role}.")
