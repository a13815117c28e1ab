from __future__ import annotations

import csv
import io
import json
import tracemalloc
from typing import Any

from muster.people import csvio, upserts, writes
from muster.people import values as pv
from muster.people.models import (
    ImportStatus,
    Person,
    PersonEmail,
    PersonImport,
    PropertyValue,
    PropertyValueChange,
    Source,
)
from muster.people.properties import create_property
from muster.people.tests.test_history import queued_import
from muster.test import BaseTestCase


class CsvImportTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.country = create_property("country", "Country", "single_select", options=["UK", "France"])
        self.member = create_property("member_id", "Member ID", "text", unique=True)
        self.taken = pv.create_person("taken@example.org", source=Source.MANUAL)
        pv.set_values(self.taken, {self.member: "M-1"}, source=Source.MANUAL)
        self.mapping = {
            "Age": str(self.age.code),
            "Country": str(self.country.code),
            "Member": str(self.member.code),
            "First": "first_name",
        }

    def run_import(self, body: bytes) -> PersonImport:
        imp = queued_import(self.rita, b"email,First,Age,Country,Member\n" + body, self.mapping)
        csvio.import_people.call(str(imp.code))
        imp.refresh_from_db()
        return imp

    def test_good_rows_land_and_each_bad_row_is_reported_with_its_reason(self) -> None:
        imp = self.run_import(
            b"ana@example.org,Ana,30,UK,M-2\n"  # 2 good
            b"ben@example.org,Ben,thirty,UK,M-3\n"  # 3 wrong type
            b"cleo@example.org,Cleo,31,Spain,M-4\n"  # 4 unknown option
            b"ANA@example.org ,Ana2,32,France,M-5\n"  # 5 duplicate email in the file
            b"dan@example.org,D\xe9,33,UK,M-6\n"  # 6 bad encoding (latin-1)
            b"not-an-email,Eve,34,UK,M-7\n"  # 7 bad email
            b"fay@example.org,Fay,35,UK,M-1\n"  # 8 unique value already someone else's
            b"gus@example.org,Gus,36\n"  # 9 too few cells
            b"taken@example.org,Tak,50,France,M-1\n"  # 10 good: an update of the value's owner
        )
        self.assertEqual(imp.status, ImportStatus.DONE)
        self.assertEqual((imp.rows_created, imp.rows_updated, imp.rows_rejected), (1, 1, 7))
        reasons = {r.row: r.reason for r in imp.rejections.all()}
        self.assertIn("is not a number", reasons[3])
        self.assertIn("is not one of the options", reasons[4])
        self.assertIn("Duplicate email", reasons[5])
        self.assertIn("Bad encoding", reasons[6])
        self.assertIn("not an email", reasons[7])
        self.assertIn("already another person's", reasons[8])
        self.assertIn("cells", reasons[9])
        self.assertEqual(
            sorted(PersonEmail.objects.values_list("email", flat=True)), ["ana@example.org", "taken@example.org"]
        )
        ana = Person.objects.get(emails__email="ana@example.org")
        self.assertEqual(ana.first_name, "Ana")
        self.assertEqual(
            pv.values_of([ana], [self.age, self.country]), {(ana.id, self.age.id): 30, (ana.id, self.country.id): "UK"}
        )
        self.assertEqual(PropertyValue.objects.get(person=self.taken, property=self.age).value_number, 50)

    def test_a_value_edited_after_the_upload_is_newer_than_the_import_and_kept(self) -> None:
        imp = queued_import(
            self.rita, b"email,First,Age,Country,Member\ntaken@example.org,Tak,50,France,M-1\n", self.mapping
        )
        pv.set_values(self.taken, {self.age: 61.0}, source=Source.MANUAL)  # after the upload, before the import
        csvio.import_people.call(str(imp.code))
        self.assertEqual(
            pv.values_of([self.taken], [self.age, self.country]),
            {(self.taken.id, self.age.id): 61, (self.taken.id, self.country.id): "France"},
        )

    def test_a_refused_row_lists_every_problem_and_a_selects_valid_options(self) -> None:
        imp = self.run_import(b"ben@example.org,Ben,forty,Nowhere,M-9\n")
        self.assertEqual(imp.rows_rejected, 1)
        reasons = list(imp.rejections.values_list("row", "column", "reason"))
        self.assertEqual(
            reasons,
            [
                (
                    2,
                    "Age",
                    "Age: the value is not a number (Age): write digits, with a point for decimals and no separators.",
                ),
                (2, "Country", "Country: the value is not one of the options of Country."),
            ],
        )
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/import/{imp.code}/progress/")
        self.assertContains(r, "Valid options: UK, France.")

    def test_a_rejected_row_writes_nothing_at_all(self) -> None:
        self.run_import(b"ben@example.org,Ben,40,Nowhere,M-9\n")
        self.assertFalse(Person.objects.filter(emails__email="ben@example.org").exists())
        self.assertFalse(PropertyValue.objects.filter(value_text="M-9").exists())

    def test_the_report_page_lists_rejections_and_the_progress_polls_until_done(self) -> None:
        imp = queued_import(self.rita, b"email,Age\nx@example.org,old\n", {"Age": str(self.age.code)})
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/import/{imp.code}/progress/")
        self.assertContains(r, 'hx-trigger="every 1s"')
        csvio.import_people.call(str(imp.code))
        r = self.client.get(f"/people/import/{imp.code}/progress/")
        self.assertNotContains(r, "hx-trigger")
        self.assertContains(r, "is not a number")

    def test_upload_then_mapping_queues_the_task(self) -> None:
        self.client.force_login(self.rita)
        upload = io.BytesIO(b"E-mail,Age,Notes\nzoe@example.org,22,hi\n")
        upload.name = "people.csv"
        r = self.client.post("/people/import/", {"file": upload})
        imp = PersonImport.objects.get()
        self.assertRedirects(r, f"/people/import/{imp.code}/", fetch_redirect_response=False)
        self.assertEqual(imp.mapping, {"E-mail": "email", "Age": str(self.age.code), "Notes": ""})
        r = self.client.post(f"/people/import/{imp.code}/", {"map-0": "", "map-1": str(self.age.code)})
        self.assertContains(r, "Map exactly one column to Email")
        r = self.client.post(
            f"/people/import/{imp.code}/", {"map-0": "email", "map-1": str(self.age.code), "map-2": ""}
        )
        imp.refresh_from_db()
        self.assertEqual(imp.status, ImportStatus.QUEUED)
        from django_tasks_db.models import DBTaskResult

        self.assertEqual(DBTaskResult.objects.count(), 1)

    def test_it_refuses_a_file_that_is_not_utf8_text(self) -> None:
        self.client.force_login(self.rita)
        upload = io.BytesIO(b"\xff\xfe\x00e\x00m")
        upload.name = "people.csv"
        r = self.client.post("/people/import/", {"file": upload})
        self.assertContains(r, "not UTF-8")


class CsvExportTestCase(BaseTestCase):
    def test_it_exports_the_filtered_people_formula_safe(self) -> None:
        job = create_property("job", "Job", "text")
        person = pv.create_person("ana@example.org", first_name="=HYPERLINK(1)", source=Source.MANUAL)
        pv.set_values(person, {job: "@SUM(A1)"}, source=Source.MANUAL)
        pv.create_person("ben@example.org", source=Source.MANUAL)
        self.client.force_login(self.rita)
        r = self.client.get("/people/export.csv", {"p.job.is": "not_empty"})
        rows = list(csv.reader(io.StringIO(body(r))))
        self.assertEqual(rows[0], ["Email", "First name", "Last name", "Opted out", "Job"])
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][0], "ana@example.org")
        self.assertFalse(rows[1][1].startswith("="))
        self.assertFalse(rows[1][4].startswith("@"))


def body(r: Any) -> str:
    return b"".join(r.streaming_content).decode()


class CsvImportOfEveryTypeTestCase(BaseTestCase):
    """The batch writer against the one-person writer (`set_values`): same values, same history."""

    def setUp(self) -> None:
        super().setUp()
        self.props = {
            "age": create_property("age", "Age", "number"),
            "born": create_property("born", "Born", "date"),
            "job": create_property("job", "Job", "text", unique=True),
            "app": create_property("app", "Uses app", "boolean"),
            "country": create_property("country", "Country", "single_select", options=["UK", "France"]),
            "devices": create_property("devices", "Devices", "multi_select", options=["iPhone", "Android", "Mac"]),
        }
        self.old = pv.create_person("old@example.org", first_name="Olga", last_name="Old", source=Source.MANUAL)
        given = {"age": "30", "born": "1990-01-02", "job": "Nurse", "app": "yes", "country": "UK", "devices": "Mac"}
        pv.set_values(self.old, {p: pv.parse(p, given[k]) for k, p in self.props.items()}, source=Source.MANUAL)

    def test_every_type_lands_with_one_history_row_per_changed_value(self) -> None:
        header = "email,first_name,last_name," + ",".join(self.props)
        body = (
            # Olga: age unchanged (30.0 is 30), the rest changed; empty last name keeps hers.
            "OLD@example.org,Olivia,,30.0,1991-03-04,Teacher,no,france,iPhone;Android\n"
            "new@example.org,Nell,New,41.5,2000-12-31,Chef,yes,UK,Mac;iPhone\n"
        )
        mapping = {k: str(p.code) for k, p in self.props.items()} | {
            "first_name": "first_name",
            "last_name": "last_name",
        }
        imp = queued_import(self.rita, header + "\n" + body, mapping)
        csvio.import_people.call(str(imp.code))
        imp.refresh_from_db()
        self.assertEqual((imp.status, imp.rows_created, imp.rows_updated, imp.rows_rejected), ("done", 1, 1, 0))
        self.old.refresh_from_db()
        self.assertEqual((self.old.first_name, self.old.last_name), ("Olivia", "Old"))
        new = Person.objects.get(emails__email="new@example.org", emails__is_primary=True)
        self.assertEqual((new.first_name, new.last_name, new.source), ("Nell", "New", Source.CSV))
        props = list(self.props.values())
        values = pv.values_of([self.old, new], props)
        p = self.props
        self.assertEqual(
            {k: values[(self.old.id, prop.id)] for k, prop in p.items()},
            {"age": 30, "born": "1991-03-04", "job": "Teacher", "app": False, "country": "France",
             "devices": ["iPhone", "Android"]},
        )  # fmt: skip
        self.assertEqual(
            {k: values[(new.id, prop.id)] for k, prop in p.items()},
            {
                "age": 41.5,
                "born": "2000-12-31",
                "job": "Chef",
                "app": True,
                "country": "UK",
                "devices": ["iPhone", "Mac"],
            },
        )
        changes = PropertyValueChange.objects.filter(revision__source=Source.CSV)
        self.assertTrue(all(c.source_code == str(imp.code) and c.changed_by == self.rita for c in changes))
        self.assertEqual(
            {(c.person_id, c.property.key): (c.old, c.new) for c in changes},
            {
                (self.old.id, "born"): ("1990-01-02", "1991-03-04"),
                (self.old.id, "job"): ("Nurse", "Teacher"),
                (self.old.id, "app"): (True, False),
                (self.old.id, "country"): ("UK", "France"),
                (self.old.id, "devices"): (["Mac"], ["iPhone", "Android"]),
                (new.id, "age"): (None, 41.5),
                (new.id, "born"): (None, "2000-12-31"),
                (new.id, "job"): (None, "Chef"),
                (new.id, "app"): (None, True),
                (new.id, "country"): (None, "UK"),
                (new.id, "devices"): (None, ["iPhone", "Mac"]),
            },
        )
        # The unique flag travels with the written text values, so the database still enforces it.
        self.assertTrue(PropertyValue.objects.get(person=new, property=p["job"]).is_unique)

    def test_importing_the_same_values_again_changes_nothing_and_adds_no_history(self) -> None:
        header = "email,first_name,last_name," + ",".join(self.props)
        mapping = {k: str(p.code) for k, p in self.props.items()} | {"first_name": "first_name"}
        first = "old@example.org,Olivia,,30,1991-03-04,Teacher,no,france,iPhone;Android\n"
        # The same values written differently: case, a number's decimals, the options' order.
        again = "old@example.org,Olivia,,30.00,1991-03-04,Teacher,NO,France,android;IPHONE\n"
        for body in (first, again):
            imp = queued_import(self.rita, header + "\n" + body, mapping)
            csvio.import_people.call(str(imp.code))
        imp.refresh_from_db()
        self.assertEqual((imp.status, imp.rows_updated, imp.rows_rejected), ("done", 1, 0))
        self.assertFalse(PropertyValueChange.objects.filter(revision__source_code=str(imp.code)).exists())
        self.assertEqual(PropertyValueChange.objects.filter(revision__source=Source.CSV).count(), 5)

    def test_a_batch_that_hits_a_constraint_is_written_row_by_row(self) -> None:
        job = self.props["job"]
        real = upserts.screen

        def blind(person_import: PersonImport, rows: list[csvio.Row]) -> Any:
            return rows, []  # as if another writer took the value after the check

        body = "email,job\nnew@example.org,Chef\nclash@example.org,Nurse\n"
        imp = queued_import(self.rita, body, {"job": str(job.code)})
        upserts.screen = blind  # type: ignore[assignment]
        try:
            csvio.import_people.call(str(imp.code))
        finally:
            upserts.screen = real
        imp.refresh_from_db()
        self.assertEqual((imp.rows_created, imp.rows_rejected), (1, 1))
        self.assertIn("meanwhile", imp.rejections.get().reason)
        self.assertFalse(Person.objects.filter(emails__email="clash@example.org").exists())
        self.assertEqual(PropertyValueChange.objects.filter(revision__source=Source.CSV).count(), 1)


class BatchesTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.batch = csvio.BATCH
        csvio.BATCH = 2

    def tearDown(self) -> None:
        csvio.BATCH = self.batch
        super().tearDown()

    def test_rows_spread_over_many_batches_all_land_and_a_later_duplicate_is_caught(self) -> None:
        rows = [f"p{i}@example.org,{i}" for i in range(7)]
        rows.insert(5, "p1@example.org,99")  # p1 was written two batches earlier
        rows.insert(2, "nobody,3")
        body = "email,age\n" + "\n".join(rows) + "\n"
        imp = queued_import(self.rita, body, {"age": str(self.age.code)})
        csvio.import_people.call(str(imp.code))
        imp.refresh_from_db()
        self.assertEqual(imp.status, ImportStatus.DONE)
        self.assertEqual((imp.rows_done, imp.rows_created, imp.rows_rejected), (9, 7, 2))
        self.assertEqual(
            [(r.row, r.reason) for r in imp.rejections.all()],
            [
                (4, "The email is missing or not an email address."),
                (8, "Duplicate email: an earlier row of this file has it."),
            ],
        )
        ages = dict(PropertyValue.objects.values_list("person__emails__email", "value_number"))
        self.assertEqual(ages, {f"p{i}@example.org": i for i in range(7)})

    def test_memory_stays_flat_however_long_the_file(self) -> None:
        def peak(rows: int) -> int:
            body = "email,age\n" + "".join(f"m{rows}-{i}@example.org,{i % 90}\n" for i in range(rows))
            imp = queued_import(self.rita, body, {"age": str(self.age.code)})
            tracemalloc.start()
            try:
                csvio.import_people.call(str(imp.code))
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        csvio.BATCH = 50
        peak(100)  # warms up what any first import loads once
        short, long = peak(200), peak(2000)
        self.assertEqual(PropertyValue.objects.count(), 2300)
        self.assertLess(long, short * 2, (short, long))  # rows held in memory would be 10 times more


class HistoryJsonTestCase(BaseTestCase):
    def test_number_text_is_the_json_the_one_person_writer_stores(self) -> None:
        for number in (30.0, 1.5, -0.0, -7.0, 0.1, 1e20, 2.0**53, 2.0**53 - 1, 123456789.125, 42):
            with self.subTest(number=number):
                self.assertEqual(writes.number_text(number), json.dumps(pv.number_json(number)))
