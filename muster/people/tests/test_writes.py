from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now

from muster.people import values as pv
from muster.people import writes
from muster.people.models import Person, PersonEmail, Property, PropertyValue, PropertyValueChange, Revision, Source
from muster.people.properties import create_property
from muster.people.writes import Change, Policy
from muster.test import BaseTestCase

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


def revision(source: str = Source.RESPONSE, code: str = "R_1") -> Revision:
    return Revision(source=source, source_code=code, at=now())


class WriterTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.job = create_property("job", "Job", "text", unique=True)
        self.devices = create_property("devices", "Devices", "multi_select", options=["iPhone", "Android", "Mac"])
        self.pat = pv.create_person("pat@example.org", source=Source.MANUAL)
        self.sam = pv.create_person("sam@example.org", source=Source.MANUAL)

    def write(self, *changes: Change, source: str = Source.RESPONSE) -> writes.Written:
        with transaction.atomic():
            return writes.write(list(changes), revision(source))

    def value(self, person: Person, prop: Property) -> Any:
        return pv.values_of([person], [prop]).get((person.id, prop.id))

    def test_a_batch_shares_one_revision_and_records_old_and_new(self) -> None:
        done = self.write(Change(self.pat.id, self.age, 30.0), Change(self.sam.id, self.age, 40.0))
        self.write(Change(self.pat.id, self.age, 31.0))
        changes = list(PropertyValueChange.objects.order_by("id").values_list("person", "old", "new", "revision"))
        assert done.revision is not None
        first = done.revision.pk
        self.assertEqual(changes[:2], [(self.pat.id, None, 30, first), (self.sam.id, None, 40, first)])
        self.assertEqual(changes[2][1:3], (30, 31))
        self.assertNotEqual(changes[2][3], first)
        self.assertEqual(Revision.objects.get(id=first).source, Source.RESPONSE)

    def test_a_change_as_of_an_earlier_time_is_skipped_with_its_reason(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0, as_of=TUESDAY))
        done = self.write(Change(self.pat.id, self.age, 99.0, as_of=MONDAY))
        self.assertEqual(self.value(self.pat, self.age), 30)
        self.assertEqual([s.reason for s in done.skipped], [writes.OLDER])
        self.assertEqual(done.skipped[0].change.value, 99.0)
        self.assertIsNone(done.revision)
        self.assertEqual(PropertyValue.objects.get(person=self.pat).as_of, TUESDAY)

    def test_an_equal_or_later_as_of_replaces(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0, as_of=MONDAY))
        self.write(Change(self.pat.id, self.age, 31.0, as_of=MONDAY))
        self.assertEqual(self.value(self.pat, self.age), 31)
        self.write(Change(self.pat.id, self.age, 32.0, as_of=TUESDAY))
        self.assertEqual(self.value(self.pat, self.age), 32)
        self.assertEqual(PropertyValue.objects.get(person=self.pat).as_of, TUESDAY)

    def test_the_same_value_as_of_a_later_time_moves_its_as_of_without_history(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0, as_of=MONDAY))
        self.write(Change(self.pat.id, self.age, 30.0, as_of=TUESDAY))
        self.assertEqual(PropertyValueChange.objects.count(), 1)
        done = self.write(Change(self.pat.id, self.age, 99.0, as_of=MONDAY + timedelta(hours=1)))
        self.assertEqual([s.reason for s in done.skipped], [writes.OLDER])
        self.assertEqual(self.value(self.pat, self.age), 30)

    def test_a_manual_edit_is_as_of_now_and_replaces_an_older_value(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0, as_of=MONDAY))
        pv.set_values(self.pat, {self.age: 44.0}, source=Source.MANUAL)
        self.assertEqual(self.value(self.pat, self.age), 44)
        self.assertGreater(PropertyValue.objects.get(person=self.pat).as_of, TUESDAY)

    def test_only_if_empty_fills_an_empty_value_and_skips_a_held_one(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0))
        done = self.write(
            Change(self.pat.id, self.age, 50.0, Policy.ONLY_IF_EMPTY),
            Change(self.sam.id, self.age, 50.0, "only_if_empty"),
        )
        self.assertEqual((self.value(self.pat, self.age), self.value(self.sam, self.age)), (30, 50))
        self.assertEqual([(s.change.person, s.reason) for s in done.skipped], [(self.pat.id, writes.NOT_EMPTY)])

    def test_add_unions_a_multi_select_with_what_is_held(self) -> None:
        iphone, android, mac = self.devices.options.all()
        self.write(Change(self.pat.id, self.devices, [mac]))
        self.write(Change(self.pat.id, self.devices, [iphone, mac], Policy.ADD))
        self.assertEqual(self.value(self.pat, self.devices), ["iPhone", "Mac"])
        self.write(Change(self.pat.id, self.devices, [mac], Policy.ADD))  # nothing new: no history
        self.write(Change(self.sam.id, self.devices, [android], Policy.ADD))
        self.assertEqual(self.value(self.sam, self.devices), ["Android"])
        history = PropertyValueChange.objects.filter(person=self.pat).order_by("id").values_list("old", "new")
        self.assertEqual(list(history), [(None, ["Mac"]), (["Mac"], ["iPhone", "Mac"])])

    def test_add_on_a_single_value_fills_it_only_when_empty(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0))
        done = self.write(Change(self.pat.id, self.age, 31.0, Policy.ADD), Change(self.sam.id, self.age, 31.0, "add"))
        self.assertEqual((self.value(self.pat, self.age), self.value(self.sam, self.age)), (30, 31))
        self.assertEqual([s.reason for s in done.skipped], [writes.NOT_EMPTY])

    def test_overwrite_with_nothing_empties_and_the_other_policies_leave_the_value(self) -> None:
        self.write(Change(self.pat.id, self.age, 30.0), Change(self.sam.id, self.age, 40.0))
        self.write(Change(self.pat.id, self.age, None), Change(self.sam.id, self.age, None, Policy.ONLY_IF_EMPTY))
        self.assertEqual((self.value(self.pat, self.age), self.value(self.sam, self.age)), (None, 40))
        self.assertEqual(PropertyValueChange.objects.latest("id").new, None)

    def test_a_unique_value_of_another_person_is_refused_and_the_rest_written(self) -> None:
        self.write(Change(self.pat.id, self.job, "Nurse"))
        done = self.write(Change(self.sam.id, self.job, "Nurse"), Change(self.sam.id, self.age, 40.0))
        self.assertEqual([(s.change.person, s.reason) for s in done.refused], [(self.sam.id, "Job: " + writes.TAKEN)])
        self.assertEqual((self.value(self.sam, self.job), self.value(self.sam, self.age)), (None, 40))

    def test_a_second_change_of_the_same_value_in_one_batch_is_refused(self) -> None:
        done = self.write(Change(self.pat.id, self.age, 30.0), Change(self.pat.id, self.age, 31.0))
        self.assertEqual([s.reason for s in done.refused], [writes.TWICE])
        self.assertEqual(self.value(self.pat, self.age), 30)

    def test_it_asks_the_database_a_fixed_number_of_times_whatever_the_number_of_people(self) -> None:
        props = [self.age, self.devices, *(create_property(f"p{i}", f"P{i}", "text") for i in range(3))]
        props += [create_property("born", "Born", "date"), create_property("app", "App", "boolean")]
        props.append(create_property("country", "Country", "single_select", options=["UK", "France"]))
        iphone, _, mac = self.devices.options.all()
        uk, france = props[-1].options.all()
        given: dict[str, list[Any]] = {
            "number": [1.0, 2.0],
            "text": ["a", "b"],
            "date": [MONDAY.date(), TUESDAY.date()],
            "boolean": [True, False],
            "single_select": [uk, france],
            "multi_select": [[iphone], [mac]],
        }

        def queries(people: int) -> list[int]:
            """Queries of a batch of new values for `people`, then of a batch changing them all."""
            ids = [p.id for p in Person.objects.bulk_create(Person() for _ in range(people))]
            counts = []
            for round in (0, 1):
                batch = [Change(i, p, given[p.type][round]) for i in ids for p in props]
                with CaptureQueriesContext(connection) as captured, transaction.atomic():
                    done = writes.write(batch, revision())
                self.assertEqual(len(done.history), people * len(props))
                counts.append(len(captured))
            return counts

        self.assertEqual(queries(10), queries(200))


class SetValuesTestCase(BaseTestCase):
    def test_set_values_writes_through_the_writer_as_of_now(self) -> None:
        age = create_property("age", "Age", "number")
        pat = pv.create_person("pat@example.org", source=Source.MANUAL)
        before = now()
        changes = pv.set_values(pat, {age: 30.0}, source=Source.MANUAL, user=self.rita)
        self.assertEqual([(c.old, c.new, c.revision.changed_by) for c in changes], [(None, 30, self.rita)])
        self.assertGreaterEqual(PropertyValue.objects.get().as_of, before)
        self.assertTrue(PersonEmail.objects.filter(person=pat).exists())
