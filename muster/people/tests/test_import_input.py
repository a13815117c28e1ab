"""Bad CSV input gets a clear answer, row by row: never a failed import, never a silent change."""

from __future__ import annotations

import csv
import io

from muster.people import csvio
from muster.people import values as pv
from muster.people.models import ImportStatus, Person, PersonEmail, PersonImport
from muster.people.properties import create_property
from muster.people.tests.test_history import queued_import
from muster.test import BaseTestCase


class ImportInputTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.note = create_property("note", "Note", "text")
        self.mapping = {"First": "first_name", "Age": str(self.age.code), "Note": str(self.note.code)}

    def run_import(self, body: bytes) -> PersonImport:
        imp = queued_import(self.rita, b"email,First,Age,Note\n" + body, self.mapping)
        csvio.import_people.call(str(imp.code))
        imp.refresh_from_db()
        return imp

    def reasons(self, imp: PersonImport) -> dict[int, str]:
        return {r.row: r.reason for r in imp.rejections.all()}

    def emails(self) -> list[str]:
        return sorted(PersonEmail.objects.values_list("email", flat=True))

    def test_a_cell_over_the_size_limit_refuses_that_row_and_the_rest_of_the_file_imports(self) -> None:
        huge = b"x" * (csv.field_size_limit() + 10)
        imp = self.run_import(
            b"ana@example.org,Ana,30,hi\nben@example.org,Ben,31," + huge + b"\ncy@example.org,Cy,32,\n"
        )
        self.assertEqual(imp.status, ImportStatus.DONE, imp.error)
        self.assertEqual(self.emails(), ["ana@example.org", "cy@example.org"])
        self.assertEqual(list(self.reasons(imp)), [3])
        self.assertIn(f"longer than {csv.field_size_limit():,} characters", self.reasons(imp)[3])

    def test_an_unbalanced_quote_that_swallows_later_rows_is_reported_with_the_lines_it_joined(self) -> None:
        imp = self.run_import(
            b'ana@example.org,Ana,30,"Lives in\nParis"\n'  # 2-3: a cell on two lines is fine
            b'ben@example.org,Ben,31,"unclosed\n'  # 4: the quote swallows the rows below
            b"cy@example.org,Cy,32,\n"
            b"dee@example.org,Dee,33,\n"
        )
        self.assertEqual(imp.status, ImportStatus.DONE, imp.error)
        self.assertEqual(self.emails(), ["ana@example.org"])
        reasons = self.reasons(imp)
        self.assertEqual(len(reasons), 1)
        self.assertIn("A quote opened on line 4 is not closed", reasons[6])
        self.assertIn("lines 4-6", reasons[6])

    def test_a_quote_that_swallows_rows_past_the_size_limit_is_reported_and_the_rows_after_it_import(self) -> None:
        swallowed = b"".join(b"p%d@example.org,P,1,%s\n" % (n, b"y" * 100) for n in range(2000))
        imp = self.run_import(b'ana@example.org,Ana,30,"unclosed\n' + swallowed)
        self.assertEqual(imp.status, ImportStatus.DONE, imp.error)
        reasons = list(self.reasons(imp).values())
        self.assertIn("A quote opened on line 2 is not closed", reasons[0])
        # The reader starts afresh after the cell it gave up on: the rows after it are imported.
        self.assertGreater(PersonEmail.objects.count(), 0)
        self.assertNotIn("ana@example.org", self.emails())

    def test_it_takes_only_numbers_that_read_one_way(self) -> None:
        imp = self.run_import(
            b"ana@example.org,Ana,1.5,\n"
            b'ben@example.org,Ben,"1,5",\n'  # one and a half, or fifteen?
            b"cy@example.org,Cy,1_000,\n"
            b"dee@example.org,Dee,1 000,\n"
            b"eve@example.org,Eve,-2e3,\n"
        )
        self.assertEqual(self.emails(), ["ana@example.org", "eve@example.org"])
        reasons = self.reasons(imp)
        self.assertEqual(sorted(reasons), [3, 4, 5])
        self.assertTrue(all("is not a number" in r for r in reasons.values()))
        ana, eve = (
            Person.objects.get(emails__email="ana@example.org"),
            Person.objects.get(emails__email="eve@example.org"),
        )
        self.assertEqual(
            pv.values_of([ana, eve], [self.age]), {(ana.id, self.age.id): 1.5, (eve.id, self.age.id): -2000}
        )

    def test_a_name_longer_than_the_field_refuses_the_row_instead_of_cutting_it(self) -> None:
        imp = self.run_import(b"ana@example.org," + b"A" * 151 + b",30,\nben@example.org," + b"B" * 150 + b",31,\n")
        self.assertEqual(self.emails(), ["ben@example.org"])
        self.assertIn("First name: longer than 150 characters", self.reasons(imp)[2])

    def test_a_nul_character_refuses_the_row(self) -> None:
        imp = self.run_import(b"ana@example.org,A\x00na,30,\nben@example.org,Ben,31,x\x00y\ncy@example.org,Cy,32,\n")
        self.assertEqual(imp.status, ImportStatus.DONE, imp.error)
        self.assertEqual(self.emails(), ["cy@example.org"])
        self.assertEqual(set(self.reasons(imp).values()), {"The row contains a NUL character."})

    def test_a_header_line_over_the_limit_is_refused_as_such(self) -> None:
        self.client.force_login(self.rita)
        columns = ",".join(f"column {n}" for n in range(7000))
        upload = io.BytesIO(f"email,{columns}\nana@example.org\n".encode())
        upload.name = "people.csv"
        r = self.client.post("/people/import/", {"file": upload})
        self.assertContains(r, "The first line is longer than 64 KiB")
        self.assertFalse(PersonImport.objects.exists())
