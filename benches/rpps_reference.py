#!/usr/bin/env python3
"""The obvious hand-written alternative to `trousseau rpps import` (issue 3, benchmark):
stream an RPPS Personne_activite extraction with the csv module into SQLite in one
transaction, keeping a few columns. Usage: rpps_reference.py FILE DB"""

import csv
import sqlite3
import sys


def main() -> None:
    path, db_path = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(db_path)
    db.execute("DROP TABLE IF EXISTS activity")
    db.execute(
        "CREATE TABLE activity (idnat TEXT, last_name TEXT, first_name TEXT, "
        "profession TEXT, finess_site TEXT, structure TEXT)"
    )
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        keep = [
            col["Identification nationale PP"],
            col["Nom d'exercice"],
            col["Prénom d'exercice"],
            col["Code profession"],
            col["Numéro FINESS site"],
            col["Identifiant technique de la structure"],
        ]
        width = len(header)
        rows = (
            [row[i] for i in keep] for row in reader if len(row) == width
        )
        with db:
            db.executemany("INSERT INTO activity VALUES (?, ?, ?, ?, ?, ?)", rows)
    count = db.execute("SELECT COUNT(*) FROM activity").fetchone()[0]
    print(f"{count} rows")


if __name__ == "__main__":
    main()
