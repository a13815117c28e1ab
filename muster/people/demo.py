"""Demo people, properties and panels for `make run` (first run only; `front`'s load_demo)."""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta

from django.db import transaction

from muster.people import values as pv
from muster.people.models import Panel, Person, Property, PropertyType, Source
from muster.people.panels import add_members
from muster.people.properties import create_property

FIRST = ["Ana", "Ben", "Chloé", "Dev", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi", "Luca", "Mia", "Noor"]
LAST = ["Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones", "Kowalski"]


@transaction.atomic
def ascii_address(address: str) -> str:
    """Chloé's demo address as people write one: chloe.…@example.com."""
    return unicodedata.normalize("NFKD", address).encode("ascii", "ignore").decode().lower()


def load() -> Panel | None:
    """Returns the panel of app users, for the demo studies; None when demo people exist already."""
    if Property.objects.filter(key="country").exists() or Person.objects.exists():
        return None
    rnd = random.Random(3)  # noqa: S311 - demo data
    props = {
        "country": create_property(
            "country", "Country", PropertyType.SINGLE_SELECT, options=["UK", "France", "Germany", "USA", "Japan"]
        ),
        "age": create_property("age", "Age", PropertyType.NUMBER),
        "signup_date": create_property("signup_date", "Signed up", PropertyType.DATE),
        "uses_mobile_app": create_property("uses_mobile_app", "Uses mobile app", PropertyType.BOOLEAN),
        "devices": create_property(
            "devices", "Devices", PropertyType.MULTI_SELECT, options=["iPhone", "Android", "Windows", "Mac", "Tablet"]
        ),
        "job_title": create_property("job_title", "Job title", PropertyType.TEXT),
        "phone": create_property("phone", "Phone", PropertyType.TEXT, pii=True),
        "customer_id": create_property("customer_id", "Customer ID", PropertyType.TEXT, unique=True),
    }
    jobs = ["Designer", "Nurse", "Teacher", "Engineer", "Accountant", "Student", "Product manager", "Chef"]
    people = []
    for i in range(100):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        person = pv.create_person(
            ascii_address(f"{first}.{last}.{i}@example.com"), first_name=first, last_name=last, source=Source.MANUAL
        )
        values = {
            props["country"]: pv.parse(props["country"], rnd.choice(["UK", "France", "Germany", "USA", "Japan"])),
            props["age"]: float(rnd.randint(18, 75)),
            props["signup_date"]: date(2023, 1, 1) + timedelta(days=rnd.randint(0, 900)),
            props["uses_mobile_app"]: rnd.random() < 0.6,
            props["devices"]: pv.parse(
                props["devices"],
                ";".join(rnd.sample(["iPhone", "Android", "Windows", "Mac", "Tablet"], rnd.randint(1, 3))),
            ),
            props["job_title"]: rnd.choice(jobs),
            props["phone"]: f"+44 7700 9{i:05d}",
            props["customer_id"]: f"C-{10000 + i}",
        }
        if i % 7 == 0:
            values.pop(props["job_title"])
        pv.set_values(person, values, source=Source.CSV, source_code="demo")
        people.append(person)
    everyone = Person.objects.all()
    app_panel = Panel.objects.create(
        name="Mobile app users", description="People who use the app and agreed to be contacted."
    )
    add_members(app_panel, everyone.filter(values__property=props["uses_mobile_app"], values__value_bool=True))
    fr = Panel.objects.create(name="France", description="French customers for localisation studies.")
    add_members(fr, everyone.filter(values__property=props["country"], values__value_option__label="France"))
    add_members(fr, everyone.filter(id__in=[p.id for p in people[:3]]), status="pending_review")
    return app_panel
