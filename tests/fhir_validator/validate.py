#!/usr/bin/env python3
"""Checks NDJSON files of FHIR R4 resources with a validator that is not ours.

The synthetic source promises valid FHIR R4 (4.0.1). Its own tests check the
shapes it means to write; this script checks what it did write against the
`fhir.resources` models (pydantic, generated from the R4 specification): choice
elements with one type only, no empty strings or codes, no unknown elements,
required elements present, primitives of the right form.

    validate.py FILE.ndjson [...]

Prints one line per invalid resource (file, line, id, the validator's words)
and a summary line; exits 0 when every resource is valid, 1 when one is not,
2 when the validator is missing or is not the pinned R4 release. Install it
with `pip install -r tests/fhir_validator/requirements.txt` (a virtualenv
keeps its pydantic 1 apart from the system's).
"""

import collections
import json
import sys

# The release whose models are FHIR 4.0.1; later ones model R4B or R5.
PINNED = "6.4.0"
FHIR_RELEASE = "4.0.1"
# Invalid resources printed in full; the rest are only counted.
SHOWN = 20


def refuse(message):
    """Exits with status 2: the check could not be made (not: it failed)."""
    print(message, file=sys.stderr)
    sys.exit(2)


def validator():
    try:
        import fhir.resources as resources
        from fhir.resources import construct_fhir_element
        from pydantic import ValidationError
    except ImportError as error:
        refuse(
            f"fhir.resources is not installed for {sys.executable} ({error}): "
            "pip install -r tests/fhir_validator/requirements.txt"
        )
    if resources.__version__ != PINNED or resources.__fhir_version__ != FHIR_RELEASE:
        refuse(
            f"fhir.resources {resources.__version__} (FHIR {resources.__fhir_version__}) "
            f"found, {PINNED} (FHIR {FHIR_RELEASE}) wanted: "
            "pip install -r tests/fhir_validator/requirements.txt"
        )
    return construct_fhir_element, ValidationError


def main(paths):
    if not paths:
        refuse("usage: validate.py FILE.ndjson [...]")
    construct, ValidationError = validator()
    counts = collections.Counter()
    invalid = 0
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    resource = json.loads(line)
                    kind = resource["resourceType"]
                    construct(kind, resource)
                    counts[kind] += 1
                except (ValidationError, ValueError, KeyError, TypeError) as error:
                    invalid += 1
                    if invalid <= SHOWN:
                        name = resource.get("id", "?") if isinstance(resource, dict) else "?"
                        words = " | ".join(str(error).splitlines())
                        print(f"{path}:{number}: {name}: invalid: {words}")
    valid = sum(counts.values())
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    print(f"{valid} valid ({kinds}), {invalid} invalid, FHIR {FHIR_RELEASE}")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
