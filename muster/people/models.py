"""People, their typed property values with history, and panels (DESIGN §6)."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower, Trim
from django.utils.timezone import now

from muster.scheduling.leases import Leased


def normalise_email(email: str) -> str:
    return email.strip().lower()


class Source(models.TextChoices):
    MANUAL = "manual", "Manual"
    CSV = "csv", "CSV import"
    API = "api", "API"
    RESPONSE = "response", "Survey response"
    LANDING = "landing", "Landing page"  # they entered their email on a study's landing page


class Person(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # "Do not contact" (DESIGN §5.3): blocks invitations and reminders, nothing else.
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    created = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="person_name"),
            models.Index(fields=["-created", "-id"], name="person_newest"),
        ]

    def __str__(self) -> str:
        return str(self.code)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def primary_email(self) -> str:
        # Uses the prefetch when there is one.
        for e in self.emails.all():
            if e.is_primary:
                return e.email
        return ""


class PersonEmail(models.Model):
    person = models.ForeignKey(Person, models.CASCADE, related_name="emails")
    # Unique across all people, primary and secondary alike; stored normalised.
    email = models.CharField(max_length=254, unique=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "email"]
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=models.Q(is_primary=True), name="one_primary_email"),
            models.CheckConstraint(condition=models.Q(email=Lower(Trim("email"))), name="email_is_normalised"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)


class PropertyType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes / no"
    SINGLE_SELECT = "single_select", "Single select"
    MULTI_SELECT = "multi_select", "Multi select"


SELECT_TYPES = (PropertyType.SINGLE_SELECT, PropertyType.MULTI_SELECT)


class Property(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    # Fixed after creation: values live in the column of their type.
    type = models.CharField(max_length=20, choices=PropertyType.choices)
    unique = models.BooleanField(default=False)
    pii = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=now)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "properties"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unique=False) | models.Q(type="text"), name="only_text_properties_are_unique"
            )
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_select(self) -> bool:
        return self.type in SELECT_TYPES


class PropertyOption(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    property = models.ForeignKey(Property, models.CASCADE, related_name="options")
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    # Retired options keep the values that use them but are offered no more.
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["property", "label"], name="option_label_unique")]

    def __str__(self) -> str:
        return self.label


class PropertyValue(models.Model):
    """One typed value per (person, property). An empty value has no row."""

    # No single-column indexes on the foreign keys: one_value_per_property (person, property),
    # value_property_person (property, person) and value_option_person (value_option, …) lead
    # with them, and every index costs every write of a value (CSV imports write thousands a second).
    person = models.ForeignKey(Person, models.CASCADE, related_name="values", db_index=False)
    property = models.ForeignKey(Property, models.CASCADE, related_name="values", db_index=False)
    value_text = models.CharField(max_length=1000, null=True, blank=True)
    value_number = models.FloatField(null=True, blank=True)
    value_date = models.DateField(null=True, blank=True)
    value_bool = models.BooleanField(null=True, blank=True)
    value_option = models.ForeignKey(
        PropertyOption, models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    value_options = models.ManyToManyField(PropertyOption, blank=True, related_name="+")
    # Copied from Property.unique so the database can enforce uniqueness with a partial index.
    is_unique = models.BooleanField(default=False)
    updated = models.DateTimeField(default=now)
    # When the value was true at its source (a response's recorded date, an import's upload, the
    # moment of a manual edit): a change as of an earlier time never replaces it (`writes.write`).
    as_of = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "property"], name="one_value_per_property"),
            models.UniqueConstraint(
                fields=["property", "value_text"], condition=models.Q(is_unique=True), name="unique_text_value"
            ),
        ]
        # People list filters: each narrows one property by value, then yields person ids. Partial, so
        # a value row only enters the index of its own type's column.
        indexes = [
            models.Index(fields=["property", "person"], name="value_property_person"),
            *(
                models.Index(
                    fields=["property", column, "person"],
                    name=f"{column}_idx",
                    condition=models.Q(**{f"{column}__isnull": False}),
                )
                for column in ("value_text", "value_number", "value_date", "value_bool")
            ),
            # An option belongs to one property, so the option leads: the same index serves the
            # select filters (option in …, property =) and the PROTECT check when an option is deleted.
            models.Index(
                fields=["value_option", "property", "person"],
                name="value_option_person",
                condition=models.Q(value_option__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id}/{self.property_id}"


class Revision(models.Model):
    """One write of values: who or what made it, from which source, and when.

    Every value that write changed has a PropertyValueChange pointing here. An import batch
    changes thousands of values at once: they share one revision rather than each repeating it.
    """

    source = models.CharField(max_length=20, choices=Source.choices)
    # What wrote it: the import's code, the survey response's code, "api"…
    source_code = models.CharField(max_length=100, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"{self.source} at {self.at}"


class PropertyValueChange(models.Model):
    """Every write of a value appends one: old and new, and the revision that says who, how and when."""

    # History is read a person at a time, so person is its one index: an import appends a row per
    # changed value, and each index more costs every one of them. Deleting a property (rare, and
    # Admin-only) scans the table instead; revisions are never deleted on their own.
    person = models.ForeignKey(Person, models.CASCADE, related_name="changes")
    property = models.ForeignKey(Property, models.CASCADE, related_name="changes", db_index=False)
    revision = models.ForeignKey(Revision, models.CASCADE, related_name="changes", db_index=False)
    # JSON values: text, number, ISO date, boolean, option label or list of option labels; null is empty.
    old = models.JSONField(null=True)
    new = models.JSONField(null=True)

    class Meta:
        # Appended in the order they happen: newest first is highest id first.
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.person_id}/{self.property_id} in revision {self.revision_id}"

    # The revision's facts, read through the change (select_related("revision") to read many).
    # builtins.property: the field named `property` hides the decorator in this class body.
    @builtins.property
    def source(self) -> str:
        return self.revision.source

    def get_source_display(self) -> str:
        return self.revision.get_source_display()

    @builtins.property
    def source_code(self) -> str:
        return self.revision.source_code

    @builtins.property
    def changed_by(self) -> Any:
        return self.revision.changed_by

    @builtins.property
    def at(self) -> Any:
        return self.revision.at


class Panel(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PanelMembership(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    panel = models.ForeignKey(Panel, models.CASCADE, related_name="memberships")
    person = models.ForeignKey(Person, models.CASCADE, related_name="memberships")
    status = models.CharField(max_length=20, choices=MembershipStatus.choices, default=MembershipStatus.APPROVED)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    created = models.DateTimeField(default=now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["panel", "person"], name="one_membership_per_panel")]
        indexes = [models.Index(fields=["panel", "status"], name="membership_panel_status")]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.panel_id}"


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", "Waiting for the column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class PersonImport(Leased):
    """A CSV upload of people, keyed by email, imported by a background task.

    The task holds the import's lease while it runs (muster.scheduling.leases): a worker that dies
    leaves it to another, which resumes after `lines_done`, the last line of the last committed batch.
    """

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=now)
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField(default=0)
    columns = models.JSONField(default=list)
    # column name -> "email" | "first_name" | "last_name" | property code | "" (skip)
    mapping = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.MAPPING)
    bytes_done = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    lines_done = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # A failed import someone chose not to retry: its file goes as a finished one's does.
    dismissed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.filename

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        return min(100, int(100 * self.bytes_done / self.size)) if self.size else 0

    @property
    def ended(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)

    @property
    def can_cancel(self) -> bool:
        return self.status in (ImportStatus.MAPPING, ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def can_retry(self) -> bool:
        return self.status == ImportStatus.FAILED and bool(self.path)


class ImportSeen(models.Model):
    """Emails an import has already written: a later row with the same email is a duplicate.

    Kept in the database, not in memory, so an import's memory stays flat whatever the file size.
    """

    person_import = models.ForeignKey(PersonImport, models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person_import", "email"], name="import_seen_once")]

    def __str__(self) -> str:
        return self.email


class ImportRejection(models.Model):
    """A CSV row that was not written, and why. Values are shown through the masking layer."""

    person_import = models.ForeignKey(PersonImport, models.CASCADE, related_name="rejections")
    row = models.PositiveIntegerField()
    email = models.CharField(max_length=254, blank=True)
    column = models.CharField(max_length=200, blank=True)
    property = models.ForeignKey(Property, models.SET_NULL, null=True, blank=True, related_name="+")
    value = models.CharField(max_length=1000, blank=True)
    # Never contains the value itself, so it can be shown to anyone who sees the report.
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["row", "id"]

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


class Erasure(models.Model):
    """The record of an erasure (GDPR/CCPA): who erased a person, when, and how many rows of each kind went.

    Nothing about the person is kept, not even their code: the code travels in API answers, exports
    and survey links, so a record holding it could be joined back to whoever it named.
    """

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    erased_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=now)
    # Kind ("emails", "property values", …) -> rows deleted.
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"erasure at {self.at}"


class ListColumns(models.Model):
    """The properties a user chose as the People list's columns; the list shows them in the properties' order."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    properties = models.ManyToManyField(Property, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"columns of {self.user_id}"


class ContactChange(models.Model):
    """A record of each opt-out and opt-in: who, when and, for an opt-in, why."""

    person = models.ForeignKey(Person, models.CASCADE, related_name="contact_changes")
    opted_out = models.BooleanField()  # the state it moved to
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=now)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return "opted out" if self.opted_out else "opted back in"
