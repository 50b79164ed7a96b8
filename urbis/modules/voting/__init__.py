"""Voting: ElectionGuard 2.1 elections on the ledger, with unlinkable eligibility."""
