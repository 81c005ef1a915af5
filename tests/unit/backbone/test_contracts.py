"""Event contracts: examples are valid, the generated files are current, bad input is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from shared.bus.consume import validation_lines
from shared.contracts import CHANNELS, LoanOnlineIssued, channel_for, decode
from shared.contracts.generate import ASYNCAPI, rendered
from shared.libraries import cooperating_libraries

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def _example(subject: str) -> bytes:
    return (EXAMPLES / f"{subject}.json").read_bytes()


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_is_valid_and_belongs_on_its_subject(path: Path) -> None:
    event = decode(path.stem, path.read_bytes())
    assert event.subject() == path.stem


def test_every_channel_has_an_example() -> None:
    for channel in CHANNELS:
        assert any(channel.matches(p.stem) for p in EXAMPLE_FILES), channel.subject


def test_examples_name_real_cooperating_libraries_and_japanese_titles() -> None:
    event = decode("ils.loan.online_issued", _example("ils.loan.online_issued"))
    assert isinstance(event, LoanOnlineIssued)
    assert event.pickup_library_no in cooperating_libraries()
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in item.title) for item in event.items)


def test_a_naive_timestamp_is_rejected() -> None:
    payload = json.loads(_example("ils.loan.returned"))
    payload["occurred_at"] = "2026-12-22T10:15:00"
    with pytest.raises(ValidationError) as exc:
        decode("ils.loan.returned", json.dumps(payload))
    assert any(line.startswith("occurred_at:") for line in validation_lines(exc.value))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "batch_thursday",
            "2026-12-04",
            "batch_thursday: Value error, 2026-12-04 is not a Thursday",
        ),
        ("pickup_library_no", 60, "pickup_library_no: Input should be less than or equal to 59"),
        ("items", [], "items: List should have at least 1 item after validation, not 0"),
        ("schema_version", 2, "schema_version: Input should be 1"),
        ("surname", "青森", "surname: Extra inputs are not permitted"),
    ],
)
def test_validation_errors_name_the_bad_field(field: str, value: object, expected: str) -> None:
    payload = json.loads(_example("ils.loan.online_issued"))
    payload[field] = value
    with pytest.raises(ValidationError) as exc:
        decode("ils.loan.online_issued", json.dumps(payload))
    assert expected in validation_lines(exc.value)


def test_an_unknown_subject_is_refused_with_the_known_ones() -> None:
    with pytest.raises(LookupError, match=r"ils\.loan\.online_issued"):
        channel_for("ils.loan.lost")


def test_generated_contract_files_are_current() -> None:
    for path, text in rendered().items():
        assert path.exists(), f"{path} missing: run `make contracts`"
        assert path.read_text("utf-8") == text, f"{path.name} is stale: run `make contracts`"


def test_asyncapi_document_is_3_0_and_every_reference_resolves() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text("utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    public = {c["address"] for c in doc["channels"].values()}
    assert {
        "ils.loan.online_issued",
        "ils.hold.ready",
        "ils.hold.cancelled",
        "ils.loan.overdue",
        "ils.loan.returned",
        "ils.patron.loan_suspended",
        "ils.patron.email_changed",
    } <= public

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        target: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, ref
            target = target[part]
