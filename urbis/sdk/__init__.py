"""The Urbis client SDK: keys, transaction building, API access, proof checking.

from urbis.sdk import Client, TxBuilder, KeyStore, verify_state_proof
"""

from urbis.sdk.builder import TxBuilder, action
from urbis.sdk.client import ApiError, AsyncClient, Client
from urbis.sdk.credentials import CredentialWallet, Issuer, Verifier
from urbis.sdk.keystore import KeyStore, KeyStoreError
from urbis.sdk.verify import ProofError, VerifiedState, verify_state_proof

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "CredentialWallet",
    "Issuer",
    "KeyStore",
    "KeyStoreError",
    "ProofError",
    "TxBuilder",
    "VerifiedState",
    "Verifier",
    "action",
    "verify_state_proof",
]
