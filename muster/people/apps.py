from __future__ import annotations

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "muster.people"
    label = "people"

    def ready(self) -> None:
        from muster.people import csvio, imports, registry, views

        imports.register(enqueue=csvio.import_people.enqueue)

        registry.register_target(
            registry.AddTarget(
                kind="panel", group="Panels", noun="a panel", choices=views.panel_choices, add=views.add_to_panel
            )
        )
