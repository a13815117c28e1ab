"""`--seed demo`: a brand with surveys ready for Muster's demo.

Ids and tokens come from a fixed random seed, and an existing demo brand is left
alone, so seeding twice (or restarting an in-memory sandbox) gives the same ids.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from . import accounts, surveys
from . import builders as b
from .accounts import User
from .ids import new_id
from .store import Store

DEMO_BRAND = "demobrand"
PARTICIPANT_FIELD = "rallyParticipantId"
# Muster creates its service user later with this display name (its setting).
MUSTER_SERVICE_USER = "Muster UXR"

JSON = dict[str, Any]


def return_url(muster_url: str | None) -> str | None:
    if not muster_url:
        return None
    return f"{muster_url.rstrip('/')}/q/return/?rid=${{e://Field/ResponseID}}&pid=${{e://Field/{PARTICIPANT_FIELD}}}"


def screener(survey_id: str, redirect: str | None) -> JSON:
    questions = [
        b.multiple_choice(
            "QID1",
            "<strong>How often</strong> do you shop for groceries online?",
            ["Every week", "Every month", "A few times a year", "<em>Never</em>"],
            # Recode values differ from choice ids, as after reordering in Qualtrics.
            recodes={"1": "4", "2": "3", "3": "2", "4": "1"},
            tag="shop_freq",
        ),
        b.multiple_choice(
            "QID2",
            "Which devices do you use to shop? <br>(select all that apply)",
            ["Phone", "Laptop", "Tablet", "Other, please specify"],
            selector="MAVR",
            other=4,
            int_order=True,
        ),
        b.multiple_choice("QID3", "Which region do you live in?", ["North", "South", "East", "West"], selector="DL"),
        b.text_entry("QID4", "What is your job title?"),
        b.text_entry("QID5", "Describe your last online shopping experience.", selector="ESTB"),
        b.form("QID6", "Your household", ["Adults", "Children", "Pets"]),
        b.slider("QID7", "How much do you agree?", ["Delivery is fast", "Prices are fair"], 0, 10),
        b.rank_order("QID8", "Rank what matters most", ["Price", "Speed", "Choice", "Freshness"]),
        b.nps("QID9", "How likely are you to recommend online grocery shopping to a friend?"),
        b.matrix(
            "QID10",
            "How satisfied are you with...",
            ["The app", "The website", "Customer service"],
            ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"],
        ),
        # Appended later (QID11 is in the Trash); older --data dirs get it on the next seed.
        drill_down_question(),
    ]
    for forced in (questions[0], questions[8]):
        forced["Validation"]["Settings"]["ForceResponse"] = "ON"
    trashed = [b.text_entry("QID11", "An old question, since deleted")]
    return b.survey(
        "Muster demo screener",
        questions,
        survey_id=survey_id,
        embedded=[PARTICIPANT_FIELD],
        trashed=trashed,
        eos_redirect_url=redirect,
    )


def drill_down_question() -> JSON:
    """QID12, a three-level Drill Down; "Other country" is a leaf on the first level."""
    question = b.drill_down(
        "QID12",
        "Where do you do most of your grocery shopping?",
        ["Country", "Region", "City"],
        {
            "Germany": {"Berlin": ["Mitte", "Kreuzberg"], "Bavaria": ["Munich", "Nuremberg"]},
            "France": {"Île-de-France": ["Paris"], "Occitanie": ["Toulouse", "Montpellier"]},
            "Other country": None,
        },
        tag="shop_where",
    )
    question["Validation"]["Settings"]["ForceResponse"] = "ON"
    return question


def study_survey(survey_id: str, redirect: str | None) -> JSON:
    questions = [
        b.multiple_choice("QID1", "Which checkout did you try?", ["Version A", "Version B"]),
        b.nps("QID2", "How likely are you to recommend this checkout?"),
        b.text_entry("QID3", "What would you change?", selector="ESTB"),
    ]
    return b.survey(
        "Muster demo study survey",
        questions,
        survey_id=survey_id,
        embedded=[PARTICIPANT_FIELD],
        eos_redirect_url=redirect,
    )


def panel_signup(survey_id: str, redirect: str | None) -> JSON:
    email = b.text_entry("QID1", "Email address")
    email["Validation"]["Settings"].update(
        {"ForceResponse": "ON", "Type": "ContentType", "ContentType": "ValidEmailAddress"}
    )
    questions = [
        email,
        b.text_entry("QID2", "First name"),
        b.text_entry("QID3", "Last name"),
        b.multiple_choice(
            "QID4",
            "What best describes your role?",
            ["Student", "Employed", "Self-employed", "Retired", "Other"],
            other=5,
        ),
        b.multiple_choice(
            "QID5", "Which of these do you own?", ["Smartphone", "Smart speaker", "Car"], selector="MAVR"
        ),
    ]
    return b.survey(
        "Muster demo panel sign-up",
        questions,
        survey_id=survey_id,
        embedded=[PARTICIPANT_FIELD],
        eos_redirect_url=redirect,
    )


def seed_demo(store: Store, datacenter: str, muster_url: str | None) -> User:
    """Create the demo brand unless it exists; return its brand administrator."""
    existing = accounts.brand_admin(store, DEMO_BRAND)
    if existing is not None:
        _add_new_questions(store)
        if muster_url:
            _point_redirects(store, return_url(muster_url))
        return existing
    rng = random.Random("qualtrics-sandbox-demo")
    admin = accounts.create_brand(store, DEMO_BRAND, datacenter, rng)
    redirect = return_url(muster_url)
    shared = [
        (screener(_survey_id(rng), redirect), True),
        (study_survey(_survey_id(rng), redirect), True),
        (panel_signup(_survey_id(rng), redirect), True),
        (
            b.survey(
                "Old pilot (inactive)",
                [b.text_entry("QID1", "Anything else?")],
                survey_id=_survey_id(rng),
                embedded=[PARTICIPANT_FIELD],
            ),
            False,
        ),
    ]
    for definition, active in shared:
        survey_id = surveys.create_survey(store, admin, definition, active, rng)
        surveys.add_auto_share(store, DEMO_BRAND, MUSTER_SERVICE_USER, survey_id)
    unshared = b.survey(
        "HR pulse (not shared)", [b.nps("QID1", "How likely are you to recommend us?")], survey_id=_survey_id(rng)
    )
    surveys.create_survey(store, admin, unshared, True, rng)
    return admin


REDIRECTED = ("Muster demo screener", "Muster demo study survey", "Muster demo panel sign-up")


def _point_redirects(store: Store, redirect: str | None) -> None:
    """A later `--muster-url` (e.g. another port) updates the demo surveys' end of survey."""
    for row in store.all("SELECT id, name, definition FROM surveys WHERE brand_id = ?", (DEMO_BRAND,)):
        if row["name"] not in REDIRECTED:
            continue
        definition = orjson.loads(row["definition"])
        options = definition.setdefault("SurveyOptions", {})
        if options.get("EOSRedirectURL") == redirect:
            continue
        options["SurveyTermination"] = "Redirect"
        options["EOSRedirectURL"] = redirect
        store.run("UPDATE surveys SET definition = ? WHERE id = ?", (orjson.dumps(definition).decode(), row["id"]))


def _add_new_questions(store: Store) -> None:
    """Questions added to the demo after a `--data` dir was seeded (QID12) are appended to
    its screener once; ids, tokens and answers already given stay as they are."""
    for row in store.all("SELECT id, name, definition FROM surveys WHERE brand_id = ?", (DEMO_BRAND,)):
        if row["name"] != "Muster demo screener":
            continue
        definition = orjson.loads(row["definition"])
        questions = definition.setdefault("Questions", {})
        block = (definition.get("Blocks") or {}).get("BL_main")
        if "QID12" in questions or not isinstance(block, dict):
            continue
        questions["QID12"] = drill_down_question()
        block.setdefault("BlockElements", []).extend(
            [{"Type": "Page Break"}, {"Type": "Question", "QuestionID": "QID12"}]
        )
        definition["QuestionCount"] = str(len(questions))
        store.run("UPDATE surveys SET definition = ? WHERE id = ?", (orjson.dumps(definition).decode(), row["id"]))


def _survey_id(rng: random.Random) -> str:
    return new_id("SV", rng)


def demo_summary(store: Store, url: str) -> list[str]:
    """KEY=VALUE lines printed on start (shell-friendly, for `make run`)."""
    admin = accounts.brand_admin(store, DEMO_BRAND)
    brand = accounts.brand_row(store, DEMO_BRAND)
    assert admin is not None and brand is not None
    types = accounts.user_types(store, DEMO_BRAND)
    lines = [
        f"QUALTRICS_SANDBOX_URL={url}",
        f"QUALTRICS_SANDBOX_BRAND_ID={DEMO_BRAND}",
        f"QUALTRICS_SANDBOX_DATACENTER={brand['datacenter']}",
        f"QUALTRICS_SANDBOX_ADMIN_USER_ID={admin.id}",
        f"QUALTRICS_SANDBOX_ADMIN_TOKEN={admin.api_token}",
        f"QUALTRICS_SANDBOX_USER_TYPE_BRAND_ADMIN={types['brandAdmin']}",
        f"QUALTRICS_SANDBOX_USER_TYPE_STANDARD={types['standard']}",
        f"QUALTRICS_SANDBOX_USER_TYPE_NO_API={types['noApi']}",
    ]
    for row in store.all("SELECT id, name FROM surveys WHERE brand_id = ? ORDER BY seq", (DEMO_BRAND,)):
        lines.append(f"# survey {row['id']}: {row['name']}")
    return lines
