"""Simulated respondents keep a generated survey's own rules, checked here by reading the definition.

The checker below shares no code with the sandbox: it reads Blocks, SurveyFlow, DisplayLogic,
ForceResponse and ExclusiveAnswer itself and judges each exported response against them.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

from qualtrics_sandbox import builders as b

from .exporting import responses
from .test_surveys import load

JSON = dict[str, Any]


def _block(block_id: str, qids: list[str]) -> JSON:
    return {
        "Type": "Standard",
        "Description": block_id,
        "ID": block_id,
        "BlockElements": [{"Type": "Question", "QuestionID": q} for q in qids],
    }


def generated_survey(rng: random.Random) -> JSON:
    """A gate block (single and multi answer, one exclusive choice), then a randomizer over three blocks
    whose questions depend on the gate through display logic."""
    gate = b.multiple_choice("QID1", "Which plan?", ["Free", "Basic", "Pro"], recodes={"1": "10", "2": "20", "3": "30"})
    gate["Validation"]["Settings"]["ForceResponse"] = "ON"
    devices = b.multiple_choice("QID2", "Devices?", ["Phone", "Laptop", "Tablet", "None of these"], "MAVR")
    devices["Choices"]["4"]["ExclusiveAnswer"] = True
    devices["Validation"]["Settings"]["ForceResponse"] = "ON" if rng.random() < 0.5 else "OFF"
    definition = b.survey("Generated rules", [gate, devices], embedded=["rallyParticipantId"])
    flow = definition["SurveyFlow"]["Flow"]
    children = []
    n = 3
    for block_no in range(3):
        qids = []
        for _ in range(rng.randint(1, 3)):
            qid = f"QID{n}"
            n += 1
            question = rng.choice(
                [
                    lambda q: b.multiple_choice(q, f"{q}?", ["Yes", "No"]),
                    lambda q: b.multiple_choice(q, f"{q} all?", ["A", "B", "C", "Neither"], "MAVR"),
                    lambda q: b.text_entry(q, f"{q} why?"),
                ]
            )(qid)
            if question["Selector"] == "MAVR":
                question["Choices"]["4"]["ExclusiveAnswer"] = True
            if rng.random() < 0.5:
                question["Validation"]["Settings"]["ForceResponse"] = "ON"
            kind = rng.choice(["selected", "not", "equal", "device"])
            if kind == "selected":
                expr = {
                    "LogicType": "Question",
                    "QuestionID": "QID1",
                    "Operator": "Selected",
                    "LeftOperand": f"q://QID1/SelectableChoice/{rng.randint(1, 3)}",
                    "Type": "Expression",
                }
            elif kind == "not":
                expr = {
                    "LogicType": "Question",
                    "QuestionID": "QID1",
                    "Operator": "NotSelected",
                    "LeftOperand": f"q://QID1/SelectableChoice/{rng.randint(1, 3)}",
                    "Type": "Expression",
                }
            elif kind == "equal":
                expr = {
                    "LogicType": "Question",
                    "QuestionID": "QID1",
                    "Operator": "EqualTo",
                    "LeftOperand": "q://QID1/SelectedChoicesRecode",
                    "RightOperand": str(rng.choice([10, 20, 30])),
                    "Type": "Expression",
                }
            else:
                expr = {
                    "LogicType": "Question",
                    "QuestionID": "QID2",
                    "Operator": "Selected",
                    "LeftOperand": f"q://QID2/SelectableChoice/{rng.randint(1, 4)}",
                    "Type": "Expression",
                }
            if rng.random() < 0.7:
                question["DisplayLogic"] = {
                    "0": {"0": expr, "Type": "If"},
                    "Type": "BooleanExpression",
                    "inPage": False,
                }
            definition["Questions"][qid] = question
            qids.append(qid)
        block_id = f"BL_gen{block_no}"
        definition["Blocks"][block_id] = _block(block_id, qids)
        children.append({"Type": "Standard", "ID": block_id, "FlowID": f"FL_{20 + block_no}"})
    subset = rng.randint(1, 2)
    flow.insert(
        -1,
        {"Type": "BlockRandomizer", "FlowID": "FL_19", "SubSet": subset, "EvenPresentation": False, "Flow": children},
    )
    return definition


def keys_of(qid: str, values: JSON) -> list[str]:
    return [k for k in values if k == qid or k.startswith(f"{qid}_")]


def condition(expr: JSON, definition: JSON, values: JSON) -> bool:
    _, _, qid, what, *rest = expr["LeftOperand"].split("/")
    question = definition["Questions"][qid]
    answer = values.get(qid)
    if what == "SelectableChoice":
        choice = rest[0]
        if question["Selector"] == "MAVR":
            picked = choice in (answer or [])
        else:
            recode = (question.get("RecodeValues") or {}).get(choice, choice)
            picked = answer is not None and str(answer) == str(recode)
        return picked if expr["Operator"] == "Selected" else not picked
    assert what == "SelectedChoicesRecode" and expr["Operator"] == "EqualTo"
    return answer is not None and float(answer) == float(expr["RightOperand"])


def problems(definition: JSON, response: JSON) -> list[str]:
    values = response["values"]
    found: list[str] = []
    randomizer = next(e for e in definition["SurveyFlow"]["Flow"] if e["Type"] == "BlockRandomizer")
    shown_flows = values.get("FL_19_DO", [])
    if len(shown_flows) != int(randomizer["SubSet"]):
        found.append(f"randomizer showed {shown_flows}, SubSet is {randomizer['SubSet']}")
    shown_blocks = {"BL_main"} | {c["ID"] for c in randomizer["Flow"] if c["FlowID"] in shown_flows}
    for block_id, block in definition["Blocks"].items():
        for element in block["BlockElements"]:
            qid = element.get("QuestionID")
            if not qid:
                continue
            question = definition["Questions"][qid]
            displayed = block_id in shown_blocks
            logic = question.get("DisplayLogic")
            if displayed and logic:
                displayed = condition(logic["0"]["0"], definition, values)
            keys = keys_of(qid, values)
            if not displayed and keys:
                found.append(f"{qid} was hidden but has {keys}")
            forced = question["Validation"]["Settings"]["ForceResponse"] == "ON"
            if displayed and forced and not keys:
                found.append(f"{qid} is forced and displayed but unanswered")
            exclusive = {c for c, choice in question.get("Choices", {}).items() if choice.get("ExclusiveAnswer")}
            picked = values.get(qid)
            if isinstance(picked, list) and exclusive & set(picked) and len(picked) > 1:
                found.append(f"{qid} combines an exclusive choice: {picked}")
            if displayed != any(f == qid or f.startswith(f"{qid}_") for f in response["displayedFields"]):
                found.append(f"{qid}: displayedFields disagree with what was displayed")
    return found


def test_a_generated_survey_answered_a_thousand_times_keeps_its_own_rules(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    rng = random.Random(1207)
    definition = generated_survey(rng)
    survey_id = load(control, brand["adminUserId"], definition)
    reply = control.post(f"/surveys/{survey_id}/respond", json={"count": 1000, "seed": 12})
    assert reply.status_code == 200, reply.text
    found = responses(admin, survey_id, includeDisplayOrder=True)
    assert len(found) == 1000
    broken = {f"{r['responseId']}: {p}" for r in found for p in problems(definition, r)}
    assert not broken, sorted(broken)[:10]
    # The rules bite: some hidden questions, some exclusive answers, both randomizer outcomes.
    assert any(r["values"].get("QID2") == ["4"] for r in found)
    assert len({tuple(r["values"]["FL_19_DO"]) for r in found}) > 1
    hidden = sum(
        1 for r in found for q in definition["Questions"] if q not in ("QID1", "QID2") and not keys_of(q, r["values"])
    )
    assert hidden > 100


def test_respond_refuses_what_the_rules_forbid(control: httpx.Client, brand: dict[str, Any]) -> None:
    definition = generated_survey(random.Random(1207))
    survey_id = load(control, brand["adminUserId"], definition)
    post = lambda **body: control.post(f"/surveys/{survey_id}/respond", json=body)  # noqa: E731
    combined = post(values={"QID1": 10, "QID2": ["1", "4"]}, finished=False)
    assert combined.status_code == 400 and "exclusive" in combined.json()["error"]
    assert post(values={"QID2": ["1"]}).status_code == 400  # QID1 is forced
    checked = 0
    for qid, question in definition["Questions"].items():
        logic = question.get("DisplayLogic")
        if logic and logic["0"]["0"]["QuestionID"] == "QID1" and logic["0"]["0"]["Operator"] == "Selected":
            wrong = {"1": 20, "2": 30, "3": 10}[logic["0"]["0"]["LeftOperand"].rsplit("/", 1)[1]]
            key = qid if question["QuestionType"] == "MC" else f"{qid}_TEXT"
            answer: Any = "x" if question["QuestionType"] == "TE" else (["1"] if question["Selector"] == "MAVR" else 1)
            reply = post(values={"QID1": wrong, key: answer}, finished=False)
            assert reply.status_code == 400 and "never saw" in reply.json()["error"], reply.text
            checked += 1
    assert checked


def carry_forward_survey() -> JSON:
    """QID2 offers the devices picked at QID1 (carried, ids `x{c}`) and one choice of its own."""
    devices = b.multiple_choice("QID1", "Which devices do you own?", ["Phone", "Laptop", "Tablet"], "MAVR")
    devices["Validation"]["Settings"]["ForceResponse"] = "ON"
    favourite = b.multiple_choice("QID2", "Which do you use most?", ["Something else"])
    favourite["DynamicChoices"] = {"Type": "ChoiceGroup", "Locator": "q://QID1/ChoiceGroup/SelectedChoices"}
    favourite["Validation"]["Settings"]["ForceResponse"] = "ON"
    return b.survey("Carried", [devices, favourite], embedded=["rallyParticipantId"])


def test_simulated_respondents_pick_only_the_choices_carried_forward_to_them(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], carry_forward_survey())
    reply = control.post(f"/surveys/{survey_id}/respond", json={"count": 300, "seed": 3})
    assert reply.status_code == 200, reply.text
    found = responses(admin, survey_id)
    assert len(found) == 300
    picked_carried = 0
    for response in found:
        owned = {f"x{c}" for c in response["values"]["QID1"]}
        shown = response["displayedValues"]["QID2"]
        # Shown at QID2: exactly the devices QID1 carried (ids x{c}), then its own choice (recode 1).
        assert shown[:-1] == sorted(owned) and shown[-1] == 1, response
        chosen = response["values"]["QID2"]
        assert chosen in shown, response
        if chosen != 1:
            picked_carried += 1
            assert response["labels"]["QID2"] == {"x1": "Phone", "x2": "Laptop", "x3": "Tablet"}[chosen]
    # The carried choices are really picked, not only the question's own.
    assert picked_carried > 100


def test_respond_refuses_a_carried_choice_the_respondent_was_never_offered(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], carry_forward_survey())
    post = lambda **body: control.post(f"/surveys/{survey_id}/respond", json=body)  # noqa: E731
    given = post(values={"QID1": ["1", "2"], "QID2": "x2"})
    assert given.status_code == 200, given.text
    kept = responses(admin, survey_id)
    assert [r["labels"]["QID2"] for r in kept] == ["Laptop"]
    refused = post(values={"QID1": ["1"], "QID2": "x3"})
    assert refused.status_code == 400, refused.text
