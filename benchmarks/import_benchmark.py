"""Import and validation of a generated 100,000-row CSV: elapsed time and peak memory.

Generates a semicolon-separated CSV (fiscal code, name, amount in euro, notice number, due
date) with valid fiscal codes and a few bad rows, then runs what an upload does: parse, map,
validate every row against a template with a payment notice, and serialise the result as the
recipient list stores it (JSON, encrypted). Targets: under 30 s and under 500 MB peak RSS.

    .venv/bin/python benchmarks/import_benchmark.py [--rows 100000]
"""

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from stdnum.it import codicefiscale  # noqa: E402

from ioportal.recipients.parsing import parse_table  # noqa: E402
from ioportal.recipients.sealing import seal, unseal  # noqa: E402
from ioportal.recipients.validation import MessageSpec, guess_mapping, validate_rows  # noqa: E402

MONTHS = "ABCDEHLMPRST"
LETTERS = "BCDFGLMNPRSTVZ"
MARKDOWN = (
    "Gentile {{ nome }},\n\nle ricordiamo che la **TARI 2026** di {{ importo }} euro scade il "
    "giorno indicato. Può pagare con l'avviso pagoPA direttamente dall'app IO.\n\n"
    "- Ufficio Tributi\n- Comune di Prova"
)


def fiscal_code(rng: random.Random) -> str:
    base = (
        "".join(rng.choice(LETTERS) for _ in range(6))
        + f"{rng.randint(40, 99):02d}"
        + rng.choice(MONTHS)
        + f"{rng.randint(1, 28) + rng.choice((0, 40)):02d}"
        + rng.choice("ABCDEFGHLM")
        + f"{rng.randint(100, 999):03d}"
    )
    return base + codicefiscale.calc_check_digit(base)


def generate(rows: int) -> bytes:
    rng = random.Random(2026)
    lines = ["Codice fiscale;Nome;Importo;Codice avviso;Scadenza"]
    for n in range(rows):
        code = fiscal_code(rng)
        if n % 1000 == 7:
            code = code[:-1] + ("A" if code[-1] != "A" else "B")  # wrong check character
        amount = f"{rng.randint(10, 99999) / 100:.2f}".replace(".", ",")
        notice = f"3{rng.randint(0, 10**17 - 1):017d}"
        lines.append(f"{code};Cittadina {n};{amount};{notice};31/12/2030")
    return ("\n".join(lines) + "\n").encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    data = generate(args.rows)
    print(f"generated {args.rows} rows, {len(data) / 1_000_000:.1f} MB")

    spec = MessageSpec(
        subject="Avviso di pagamento TARI 2026",
        markdown=MARKDOWN,
        placeholders=[
            {"name": "nome", "type": "text", "required": True, "pattern": ""},
            {"name": "importo", "type": "euro", "required": True, "pattern": ""},
        ],
        has_payment=True,
        has_due_date=True,
        max_payment_amount=100_000_00,
    )
    start = time.perf_counter()
    table = parse_table(data=data, filename="tari.csv")
    parsed = time.perf_counter()
    mapping = guess_mapping(
        table.headers, ["fiscal_code", "amount", "notice_number", "due_date", "nome"]
    )
    mapping["importo"] = "Importo"
    outcome = validate_rows(
        headers=table.headers, rows=table.rows, lines=table.lines, mapping=mapping, spec=spec
    )
    validated = time.perf_counter()
    stored = seal(outcome.valid)
    done = time.perf_counter()
    assert len(unseal(stored)) == len(outcome.valid)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"valid {len(outcome.valid)}, rejected {len(outcome.rejected)}")
    print(f"parse      {parsed - start:6.2f} s")
    print(f"validate   {validated - parsed:6.2f} s")
    print(f"store      {done - validated:6.2f} s  ({len(stored) / 1_000_000:.1f} MB encrypted)")
    print(f"elapsed    {done - start:6.2f} s  (target < 30 s)")
    print(f"peak RSS   {peak_mb:6.0f} MB (target < 500 MB)")
    if done - start >= 30 or peak_mb >= 500:
        sys.exit(1)


if __name__ == "__main__":
    main()
