from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from muster.accounts import demo as accounts_demo
from muster.people import demo as people_demo
from muster.studies import demo as studies_demo


class Command(BaseCommand):
    help = "Loads demo data on first run and prints the demo Admin's sign-in."

    def handle(self, *args: Any, **options: Any) -> None:
        password = accounts_demo.load()
        with transaction.atomic():
            panel = people_demo.load()
            if panel is not None:
                studies_demo.load(panel)
                self.stdout.write("  Demo people, properties, panels and studies loaded.")
        self.stdout.write(f"\n  Demo Admin sign-in:  {accounts_demo.DEMO_ADMIN_EMAIL}  /  {password}\n")
