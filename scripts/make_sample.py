"""Regenerate sample_data/contacts.csv and sample_data/portability.csv (deterministic).

The numbers are made up inside allocated ARCEP blocks; they belong to nobody we know of.
The contact file is written the way French CRMs export: ';' separator, cp1252, a
header with accents, cells typed by hand or mangled by Excel.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "sample_data"
rng = random.Random(20261125)
FIRST = ["Élodie", "Jérôme", "Anaïs", "François", "Hélène", "Loïc", "Maëlle", "Noël", "Océane",
         "Thérèse", "Amélie", "Benoît", "Cécile", "Gaëtan", "Inès", "Raphaël", "Zoé", "Léa"]
LAST = ["Lefèvre", "Müller", "Dubois", "Garçon", "Bénard", "Rivière", "Leroy", "Mercier",
        "Fabre", "Girard", "Chevalier", "Bonnet", "Lambert", "Fontaine", "Rousseau"]
CITIES = ["Paris", "Lyon", "Marseille", "Saint-Étienne", "Besançon", "Nîmes", "Orléans"]
# FRTE (Orange) metropolitan mobile blocks, and a few other operators' blocks
FRTE = ["0607", "0608", "06020", "06021", "0670", "0671", "0672", "0680", "0681", "0689"]
OTHER = {"SFR0": "06010", "BOUY": "06024", "FRMO": "0651", "LYCA": "06055"}


def mobile(prefix: str) -> str:
    return prefix + "".join(rng.choice("0123456789") for _ in range(10 - len(prefix)))


def styled(national: str, k: int) -> str:
    """The same number written as people and spreadsheets write it."""
    d = national
    forms = [
        d,
        " ".join(d[i:i + 2] for i in range(0, 10, 2)),
        ".".join(d[i:i + 2] for i in range(0, 10, 2)),
        "+33 " + d[1] + " " + " ".join(d[i:i + 2] for i in range(2, 10, 2)),
        "0033" + d[1:],
        d[1:],  # Excel ate the leading zero
        "+33 (0)" + d[1:],
        "33" + d[1:],
        "\u00a0".join(d[i:i + 2] for i in range(0, 10, 2)),
        "tel:+33" + d[1:],
        "-".join(d[i:i + 2] for i in range(0, 10, 2)),
    ]
    return forms[k % len(forms)]


def main() -> None:
    from rcsqualify.numbering.plan import load_plan

    blocks = load_plan().blocks
    holders = dict(zip(blocks["prefix"], blocks["operator"], strict=True))
    for prefix in FRTE:
        assert holders.get(prefix) == "FRTE", prefix
    for op, prefix in OTHER.items():
        assert holders.get(prefix) == op, prefix
    rows: list[tuple[str, str]] = []  # (cell, comment)
    frte = [mobile(rng.choice(FRTE)) for _ in range(130)]
    for i, num in enumerate(frte):
        rows.append((styled(num, i), "client Orange"))
    # duplicates written differently
    for i in range(6):
        rows.append((styled(frte[i], i + 3), "doublon"))
    others = {op: mobile(pfx) for op, pfx in OTHER.items()}
    for op, num in others.items():
        rows.append((styled(num, 1), f"mobile {op}"))
    rows += [
        ("0692 12 34 56", "Réunion, Orange"),
        ("+33 639 01 23 45", "Mayotte, écrit en +33"),
        ("+33 1 05 60 12 34", "fixe"),
        ("09 75 12 34 56", "box"),
        ("0800 00 12 34", "numéro spécial"),
        ("07 00 00 01 23 45 67", "M2M"),
        ("", "vide"),
        ("N/A", "inconnu"),
        ("3,36123E+10", "Excel"),
        ("06 07 12 34 56 / 06 08 65 43 21", "deux numéros"),
        ("06 07 12", "incomplet"),
        ("06 07 12 34 56 78 90", "trop long"),
        ("+44 20 7946 0958", "Londres"),
        ("+590 692 12 34 56", "mauvais indicatif"),
    ]
    rng.shuffle(rows)
    with (OUT / "contacts.csv").open("w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(["Nom", "Prénom", "Téléphone portable", "Ville", "Commentaire"])
        for cell, comment in rows:
            w.writerow([rng.choice(LAST), rng.choice(FIRST), cell, rng.choice(CITIES), comment])
    # Portability extract: 4 Orange-range numbers ported out, 2 other-range ported in,
    # one conflicting pair resolved by date, operators in all three encodings.
    with (OUT / "portability.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=",")
        w.writerow(["msisdn", "operateur", "date_portage"])
        w.writerow(["+33" + frte[10][1:], "SFR0", "2025-03-02"])
        w.writerow([frte[11], "20820", "2025-06-17"])
        w.writerow([frte[12], "06000", "2025-09-30"])
        w.writerow(["33" + frte[13][1:], "BOUY", "2024-01-15"])
        w.writerow([others["SFR0"], "FRTE", "2025-11-02"])
        w.writerow([others["FRMO"], "20801", "2025-02-11"])
        w.writerow([frte[14], "FRMO", "2023-05-05"])
        w.writerow([frte[14], "FRTE", "2025-07-07"])  # ported back: the latest wins


if __name__ == "__main__":
    main()
