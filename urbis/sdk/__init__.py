"""The Urbis client SDK: keys, transaction building, API access, proof checking.

from urbis.sdk import Client, TxBuilder, Wallet, verify_state_proof
"""

from urbis.sdk.builder import TxBuilder, action
from urbis.sdk.client import ApiError, AsyncClient, Client
from urbis.sdk.credentials import CredentialWallet, Issuer, Verifier
from urbis.sdk.verify import ProofError, VerifiedState, verify_state_proof
from urbis.sdk.wallet import Wallet, WalletError

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "CredentialWallet",
    "Issuer",
    "ProofError",
    "TxBuilder",
    "VerifiedState",
    "Verifier",
    "Wallet",
    "WalletError",
    "action",
    "verify_state_proof",
]
