"""The audit's table and JSON."""

import json
import math

from grounding_rewards import grounding_reward
from grounding_rewards.audit import AuditReport, CheckResult, audit, format_table, naive


def test_table_columns_and_signs():
    rows = [
        CheckResult("empty_answer", "exploit", "an empty answer", 0.0, 1.0, 1.0, "GAINS"),
        CheckResult("span_order", "invariant", "order", 1.0, 1.0, 0.0, "ok"),
        CheckResult("fuzz", "invariant", "fuzz", None, None, None, "n/a"),
        CheckResult("finite", "invariant", "finite", 1.0, math.nan, math.nan, "BROKEN"),
        CheckResult("range", "invariant", "range", 1.0, math.inf, math.inf, "BROKEN"),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["check", "honest", "exploit", "gain", "verdict"]
    assert lines[1].split() == ["empty_answer", "0.000", "1.000", "+1.000", "GAINS"]
    assert lines[2].split() == ["span_order", "1.000", "1.000", "+0.000", "ok"]
    assert lines[3].split() == ["fuzz", "-", "-", "-", "n/a"]
    assert lines[4].split() == ["finite", "1.000", "nan", "nan", "BROKEN"]
    assert lines[5].split() == ["range", "1.000", "+inf", "+inf", "BROKEN"]
    # columns line up: every verdict starts at the same offset
    assert len({line.index(line.split()[-1]) for line in lines}) == 1


def test_report_table_header_and_summary():
    report = audit(naive.prompt_answer, components=["accuracy"], fuzz=10)
    text = report.table()
    assert text.splitlines()[0].startswith("audit of prompt_answer (contract plain, coords pixel")
    assert (
        text.splitlines()[-1] == f"{len(report.checks)} checks, 1 failed: answer_in_prompt (GAINS)"
    )
    ours = audit(grounding_reward, fuzz=10)
    assert ours.table().splitlines()[-1] == f"{len(ours.checks)} checks, all passed"


def test_json_is_standard_and_complete():
    report = AuditReport(
        target="t",
        contract="plain",
        settings={"coords": "pixel"},
        components=("bbox",),
        tolerance=1e-6,
        reward_range=(0.0, 1.0),
        checks=(
            CheckResult(
                "x",
                "invariant",
                "d",
                1.0,
                math.nan,
                math.nan,
                "BROKEN",
                details={"cases": [{"exploit": math.inf}]},
            ),
        ),
    )
    data = json.loads(report.to_json())  # allow_nan=False would raise on a bare NaN
    assert data["passed"] is False and data["failed"] == ["x"]
    assert data["checks"][0]["exploit"] == "nan"
    assert data["checks"][0]["details"]["cases"][0]["exploit"] == "inf"


def test_json_of_a_real_audit_has_per_variant_cases():
    report = audit(naive.substring_answer, components=["accuracy"], fuzz=10)
    data = json.loads(report.to_json())
    row = next(c for c in data["checks"] if c["name"] == "every_option")
    assert row["verdict"] == "GAINS"
    assert row["details"]["reference"] == "honest_wrong"
    variants = {case["variant"] for case in row["details"]["cases"]}
    assert "letters joined by 'or'" in variants
    assert all(len(case["completion_preview"]) <= 160 for case in row["details"]["cases"])
    assert data["components"] == ["accuracy"] and data["settings"]["coords"] == "pixel"
