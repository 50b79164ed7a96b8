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
