"""Records and action arguments of the accounts module."""

from __future__ import annotations

from dataclasses import dataclass

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PUBLIC_KEY_SIZE

KEYS_PER_ACCOUNT_MAX = 16
KEY_WEIGHT_MAX = 100


@dataclass(frozen=True, slots=True)
class AccountKey:
    key: bytes
    weight: int = 1

    def __post_init__(self) -> None:
        if len(self.key) != PUBLIC_KEY_SIZE:
            raise ValueError(f"a key is a {PUBLIC_KEY_SIZE}-byte Ed25519 public key")
        if not 1 <= self.weight <= KEY_WEIGHT_MAX:
            raise ValueError(f"a key's weight is 1 to {KEY_WEIGHT_MAX}")


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One entry of an account's key history: which key came or went, and when."""

    changed_at_height: int
    time_ms: int
    key: bytes
    weight: int
    change: str  # "added" | "removed"


@dataclass(frozen=True, slots=True)
class Account:
    """Keys, threshold and the key history in one record: one state key per account.

    The history lets a verifier check a signature made with a key that was
    current when it signed but has since been rotated away.
    """

    keys: list[AccountKey]
    threshold: int
    created_at_height: int
    key_history: list[KeyChange]

    def weight(self) -> int:
        return sum(k.weight for k in self.keys)

    def find(self, key: bytes) -> AccountKey | None:
        return next((k for k in self.keys if k.key == key), None)


# -- actions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateAccount:
    """Create an account; its id derives from the first key (`AccountId.from_key`)."""

    keys: list[AccountKey]
    threshold: int = 1


@dataclass(frozen=True, slots=True)
class AddKey:
    key: bytes
    weight: int = 1

    def __post_init__(self) -> None:
        AccountKey(self.key, self.weight)  # the same rules as a stored key


@dataclass(frozen=True, slots=True)
class RemoveKey:
    key: bytes


@dataclass(frozen=True, slots=True)
class RotateKey:
    """Replace `old_key` by `new_key` with the same weight (a lost or retired device)."""

    old_key: bytes
    new_key: bytes

    def __post_init__(self) -> None:
        AccountKey(self.new_key)


@dataclass(frozen=True, slots=True)
class SetThreshold:
    threshold: int


RECOVERY_DELAY_BLOCKS_MAX = 1_000_000
GUARDIANS_MAX = 16


@dataclass(frozen=True, slots=True)
class Guardians:
    """Who may replace the account's keys if the owner loses them, and after how long."""

    guardians: list[AccountId]
    threshold: int
    delay_blocks: int


@dataclass(frozen=True, slots=True)
class Recovery:
    new_keys: list[AccountKey]
    new_threshold: int
    approvals: list[AccountId]
    started_at_height: int
    ready_at_height: int


@dataclass(frozen=True, slots=True)
class SetGuardians:
    guardians: list[AccountId]
    threshold: int
    delay_blocks: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.guardians) <= GUARDIANS_MAX:
            raise ValueError(f"1 to {GUARDIANS_MAX} guardians")
        if len(set(self.guardians)) != len(self.guardians):
            raise ValueError("guardians must be distinct")
        if not 1 <= self.threshold <= len(self.guardians):
            raise ValueError("threshold must be 1 to the number of guardians")
        if not 1 <= self.delay_blocks <= RECOVERY_DELAY_BLOCKS_MAX:
            raise ValueError(f"delay_blocks must be 1 to {RECOVERY_DELAY_BLOCKS_MAX}")


@dataclass(frozen=True, slots=True)
class ProposeRecovery:
    """A guardian proposes the keys that replace a lost account's keys."""

    account: AccountId
    new_keys: list[AccountKey]
    new_threshold: int = 1


@dataclass(frozen=True, slots=True)
class ApproveRecovery:
    account: AccountId


@dataclass(frozen=True, slots=True)
class CancelRecovery:
    """The owner (who has not lost the keys after all) stops a recovery during the delay."""


@dataclass(frozen=True, slots=True)
class ExecuteRecovery:
    account: AccountId
