"""Operators' patterns run with the `regex` engine and a time budget; checked when saved."""

import pytest
from django.urls import reverse

from ioportal.messaging.models import MessageTemplate
from ioportal.recipients import validation
from ioportal.recipients.validation import (
    MessageSpec,
    PatternBudget,
    compile_pattern,
    pattern_problem,
)
from tests.recipients.support import validated

# Exponential for a backtracking engine, and for `regex` too (unlike `(a+)+b`, which `regex`
# answers at once).
EXPLOSIVE = r"(a|aa)+b"
MARKDOWN = "Gentile {{ codice }}, " + "il suo documento è pronto allo sportello. " * 3


def spec(pattern: str) -> MessageSpec:
    return MessageSpec(
        subject="Documento pronto",
        markdown=MARKDOWN,
        placeholders=[{"name": "codice", "type": "text", "required": True, "pattern": pattern}],
    )


def check(pattern: str, values: list[str]) -> validation.ValidationOutcome:
    codes = ["RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H"]
    return validated(
        headers=["cf", "codice"],
        rows=[[code, value] for code, value in zip(codes, values, strict=False)],
        mapping={"fiscal_code": "cf", "codice": "codice"},
        spec=spec(pattern),
    )


def test_the_classic_catastrophic_pattern_is_answered():
    outcome = check(r"(a+)+b", ["a" * 32 + "!", "aaab"])
    assert [row["line"] for row in outcome.valid] == [3]
    assert outcome.rejected[0]["reasons"] == ["Non rispetta il formato richiesto dal modello."]


def test_a_pattern_out_of_time_rejects_the_rows_with_the_reason():
    outcome = check(EXPLOSIVE, ["a" * 40, "a" * 40, "aab"])
    reason = (
        "Il formato di «codice» nel modello richiede troppo tempo per essere verificato: "
        "semplifica l'espressione regolare."
    )
    assert [row["reasons"] for row in outcome.rejected] == [[reason]] * 3
    assert outcome.valid == []


def test_the_budget_is_shared_and_never_runs_once_spent():
    budget = PatternBudget(0.05, per_value=0.001)
    assert budget.fullmatch(compile_pattern("x"), "x") is True
    assert budget.fullmatch(compile_pattern(EXPLOSIVE), "a" * 40) is None
    assert budget.remaining <= 0
    assert budget.fullmatch(compile_pattern("x"), "x") is None


def test_ordinary_values_earn_their_time():
    # 10 ms to start with (a first match may take longer than a budget of a few values);
    # 20,000 matches cost more than that, so without what each value earns the budget runs out.
    budget = PatternBudget(0.01, per_value=validation.PATTERN_SECONDS_PER_VALUE)
    pattern = compile_pattern(r"[A-Z]{2}\d{5}")
    assert all(budget.fullmatch(pattern, "AB12345") for _ in range(20_000))


def test_an_invalid_stored_pattern_rejects_rows_instead_of_crashing():
    outcome = check("([a-z]", ["abc"])
    assert outcome.rejected[0]["reasons"][0].startswith(
        "Il formato di «codice» nel modello non si può usare: Espressione regolare non valida"
    )


@pytest.mark.parametrize("pattern", [EXPLOSIVE, r"( |  )+\S", r"([a-z]|[a-z]{2})+\d"])
def test_slow_patterns_are_refused_when_saved(pattern):
    assert "richiede troppo tempo anche su testi brevi" in pattern_problem(pattern)


@pytest.mark.parametrize("pattern", [r"[A-Z]{2}\d{5}", r"(a+)+b", r"\p{Lu}+", r"\d{18}"])
def test_ordinary_patterns_are_accepted(pattern):
    assert pattern_problem(pattern) == ""


def _template_data(pattern: str) -> dict[str, str]:
    return {
        "name": "Documenti",
        "subject": "Documento pronto per il ritiro",
        "markdown": MARKDOWN,
        "feature_level": "standard",
        "ph-TOTAL_FORMS": "1",
        "ph-INITIAL_FORMS": "0",
        "ph-MIN_NUM_FORMS": "0",
        "ph-MAX_NUM_FORMS": "1000",
        "ph-0-name": "codice",
        "ph-0-type": "text",
        "ph-0-required": "on",
        "ph-0-pattern": pattern,
    }


def test_template_form_refuses_a_slow_pattern(client, login, operator_user):
    login(operator_user)
    response = client.post(reverse("messaging:template_create"), _template_data(EXPLOSIVE))
    assert response.status_code == 200
    assert "richiede troppo tempo anche su testi brevi" in response.content.decode()
    assert not MessageTemplate.objects.exists()
    response = client.post(reverse("messaging:template_create"), _template_data("[A-Z]{2}"))
    assert response.status_code == 302
    assert MessageTemplate.objects.get().placeholders[0]["pattern"] == "[A-Z]{2}"
