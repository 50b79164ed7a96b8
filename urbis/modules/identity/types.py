"""The credential types the city ships, and the claims an issuer derives at issuance.

A ResidentID carries `age_over_18` / `age_over_65` computed from the birthdate
on the day of issuance, so a verifier that only needs "is an adult" never
sees the birthdate.
"""

from __future__ import annotations

from datetime import date
from typing import Any

STANDARD_TYPES: dict[str, dict[str, Any]] = {
    "ResidentID": {
        "claims": [
            "given_name",
            "family_name",
            "birthdate",
            "address",
            "resident_since",
            "age_over_18",
            "age_over_65",
        ],
        "validity_days": 3650,
    },
    "TransitPass": {"claims": ["zone", "valid_until", "concession"], "validity_days": 365},
    "VoterEligibility": {"claims": ["district", "election_id"], "validity_days": 90},
}


def derive_claims(vct: str, claims: dict[str, Any], today: date) -> dict[str, Any]:
    """Add the derived claims of `vct` (age flags of a ResidentID) to what the issuer knows."""
    if vct != "ResidentID" or "birthdate" not in claims:
        return dict(claims)
    born = date.fromisoformat(str(claims["birthdate"]))
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return {**claims, "age_over_18": age >= 18, "age_over_65": age >= 65}


LOCALES = ("en-US", "de-CH")
"""Type metadata is shown in English and Swiss German (Zug's languages)."""

TYPE_DISPLAY: dict[str, dict[str, tuple[str, str]]] = {
    "ResidentID": {
        "en-US": ("Resident ID", "Proof that you are a resident of the city"),
        "de-CH": ("Einwohnerausweis", "Nachweis, dass Sie in der Stadt wohnen"),
    },
    "TransitPass": {
        "en-US": ("Transit pass", "A pass for the city's public transport"),
        "de-CH": ("Verkehrsabonnement", "Ein Abonnement für den öffentlichen Verkehr"),
    },
    "VoterEligibility": {
        "en-US": ("Voter eligibility", "You may vote in this election"),
        "de-CH": ("Stimmberechtigung", "Sie sind für diese Abstimmung stimmberechtigt"),
    },
}
"""Display name and description of each shipped type, per locale."""

CLAIM_LABELS: dict[str, dict[str, str]] = {
    "given_name": {"en-US": "Given name", "de-CH": "Vorname"},
    "family_name": {"en-US": "Family name", "de-CH": "Nachname"},
    "birthdate": {"en-US": "Date of birth", "de-CH": "Geburtsdatum"},
    "address": {"en-US": "Address", "de-CH": "Adresse"},
    "resident_since": {"en-US": "Resident since", "de-CH": "Wohnhaft seit"},
    "age_over_18": {"en-US": "Aged 18 or over", "de-CH": "Mindestens 18 Jahre alt"},
    "age_over_65": {"en-US": "Aged 65 or over", "de-CH": "Mindestens 65 Jahre alt"},
    "zone": {"en-US": "Zone", "de-CH": "Zone"},
    "valid_until": {"en-US": "Valid until", "de-CH": "Gültig bis"},
    "concession": {"en-US": "Concession", "de-CH": "Ermässigung"},
    "district": {"en-US": "District", "de-CH": "Wahlkreis"},
    "election_id": {"en-US": "Election", "de-CH": "Abstimmung"},
}
"""Claim labels per locale; a claim not listed is labelled with its own name."""

CLAIM_SCHEMAS: dict[str, dict[str, str]] = {
    "birthdate": {"type": "string", "format": "date"},
    "resident_since": {"type": "string", "format": "date"},
    "valid_until": {"type": "string", "format": "date"},
    "age_over_18": {"type": "boolean"},
    "age_over_65": {"type": "boolean"},
}
"""JSON Schema of claims that are not plain strings."""


def json_schema(vct: str, claims: list[str]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a credential type's claims, as its type metadata serves it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": vct,
        "type": "object",
        "properties": {name: CLAIM_SCHEMAS.get(name, {"type": "string"}) for name in claims},
    }


def schema_bytes(vct: str, claims: list[str]) -> bytes:
    """The schema as hashed into `schema_hash` on chain (sorted keys, no spaces)."""
    import json

    return json.dumps(json_schema(vct, claims), sort_keys=True, separators=(",", ":")).encode()
