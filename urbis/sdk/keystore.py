"""Keys in files encrypted with a passphrase: scrypt derives the key, ChaCha20-Poly1305
seals the seed. The account id and public key stay readable, so `keys list`
needs no passphrase; the name and public key are bound as associated data,
so a file cannot be relabelled without the decryption failing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey

SCRYPT_N = 2**15
"""About 50 ms and 32 MiB per unlock: cheap for a person, costly for a guesser."""
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_N_MAX = 2**20
"""The most a key file may ask for: 1 GiB with r = 8 is far beyond what we write (2^15),
yet bounded, so a tampered file cannot make `keys` allocate until it dies."""
SCRYPT_R_MAX = 32
SCRYPT_P_MAX = 16
SCRYPT_MEMORY_MAX = 1 << 30
"""128 * n * r bytes is what scrypt allocates; above this a file is refused unopened."""
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeyStoreError(Exception):
    """A key file is missing, unreadable, or the passphrase is wrong; `code` is stable."""

    def __init__(self, message: str, code: str = "keystore.error") -> None:
        super().__init__(message)
        self.code = code


def check_kdf(n: object, r: object, p: object) -> tuple[int, int, int]:
    """scrypt parameters as a key file gives them, refused (`keystore.bad_kdf`) unless sane."""
    if not all(type(v) is int for v in (n, r, p)):
        raise KeyStoreError(
            "key file is damaged: KDF parameters must be integers", "keystore.bad_kdf"
        )
    assert isinstance(n, int) and isinstance(r, int) and isinstance(p, int)
    if not (2 <= n <= SCRYPT_N_MAX and n & (n - 1) == 0):
        raise KeyStoreError(
            f"key file asks for scrypt n={n}; allowed: a power of two up to {SCRYPT_N_MAX}",
            "keystore.bad_kdf",
        )
    if not (1 <= r <= SCRYPT_R_MAX and 1 <= p <= SCRYPT_P_MAX) or 128 * n * r > SCRYPT_MEMORY_MAX:
        raise KeyStoreError(
            f"key file asks for scrypt r={r}, p={p} (n={n}); allowed r <= {SCRYPT_R_MAX}, "
            f"p <= {SCRYPT_P_MAX}, memory <= {SCRYPT_MEMORY_MAX} bytes",
            "keystore.bad_kdf",
        )
    return n, r, p


@dataclass(frozen=True)
class KeyInfo:
    name: str
    account: AccountId
    public_key: bytes
    path: Path


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def seal_key(name: str, key: PrivateKey, passphrase: str, n: int = SCRYPT_N) -> dict[str, Any]:
    salt, nonce = os.urandom(16), os.urandom(12)
    public = key.public_key.raw
    ciphertext = ChaCha20Poly1305(_derive(passphrase, salt, n, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, key.seed, name.encode() + public
    )
    return {
        "version": 1,
        "name": name,
        "account": AccountId.from_key(public).text,
        "public_key": public.hex(),
        "kdf": {"name": "scrypt", "salt": salt.hex(), "n": n, "r": SCRYPT_R, "p": SCRYPT_P},
        "cipher": {"name": "chacha20-poly1305", "nonce": nonce.hex()},
        "ciphertext": ciphertext.hex(),
    }


def open_key(data: dict[str, Any], passphrase: str) -> PrivateKey:
    try:
        kdf, cipher = data["kdf"], data["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "chacha20-poly1305":
            raise KeyStoreError("unsupported key file format")
        n, r, p = check_kdf(kdf["n"], kdf["r"], kdf["p"])
        secret = _derive(passphrase, bytes.fromhex(kdf["salt"]), n, r, p)
        public = bytes.fromhex(data["public_key"])
        seed = ChaCha20Poly1305(secret).decrypt(
            bytes.fromhex(cipher["nonce"]),
            bytes.fromhex(data["ciphertext"]),
            data["name"].encode() + public,
        )
    except InvalidTag:
        raise KeyStoreError(
            f"wrong passphrase for key {data.get('name')!r}", "keystore.wrong_passphrase"
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise KeyStoreError(f"key file is damaged: {error!r}", "keystore.damaged_key") from None
    key = PrivateKey(seed)
    if key.public_key.raw != public:
        raise KeyStoreError(
            "key file is damaged: the seed does not match the public key", "keystore.damaged_key"
        )
    return key


class KeyStore:
    """A folder of key files, one per name (`<home>/keys/<name>.json`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        if not KEY_NAME.match(name):
            raise KeyStoreError(
                f"key name {name!r}: letters, digits, '_', '.', '-' (max 64)", "keystore.bad_name"
            )
        return self.folder / f"{name}.json"

    def create(self, name: str, passphrase: str, key: PrivateKey | None = None) -> KeyInfo:
        path = self.path(name)
        if path.exists():
            raise KeyStoreError(f"a key named {name!r} exists already ({path})")
        key = key or PrivateKey.generate()
        self.folder.mkdir(parents=True, exist_ok=True)
        data = seal_key(name, key, passphrase)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return self._info(data, path)

    def load(self, name: str, passphrase: str) -> PrivateKey:
        return open_key(self._read(name), passphrase)

    def info(self, name: str) -> KeyInfo:
        return self._info(self._read(name), self.path(name))

    def list(self) -> list[KeyInfo]:
        if not self.folder.is_dir():
            return []
        infos = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                infos.append(self._info(json.loads(path.read_text()), path))
            except (OSError, ValueError, KeyStoreError, RecursionError):
                continue  # a damaged file is reported when it is used, not when listing
        return infos

    def _read(self, name: str) -> dict[str, Any]:
        path = self.path(name)
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyStoreError(
                f"no key named {name!r} in {self.folder}", "keystore.no_key"
            ) from None
        except (OSError, ValueError, RecursionError) as error:
            raise KeyStoreError(
                f"cannot read key {name!r}: {error}", "keystore.damaged_key"
            ) from None
        if not isinstance(data, dict):
            raise KeyStoreError(f"key file {path} is not a JSON object", "keystore.damaged_key")
        return data

    def set_account(self, name: str, account: AccountId) -> None:
        """Record that this key signs for `account` (after a rotation made it that account's)."""
        path = self.path(name)
        data = self._read(name)
        data["account"] = account.text
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2))
        os.replace(temporary, path)

    @staticmethod
    def _info(data: dict[str, Any], path: Path) -> KeyInfo:
        try:
            public = bytes.fromhex(data["public_key"])
            account = AccountId.parse(data["account"]) if "account" in data else None
            name = data["name"]
            if not isinstance(name, str) or len(public) != 32:
                raise ValueError("name or public key has the wrong form")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise KeyStoreError(
                f"key file {path} is damaged: {error!r}", "keystore.damaged_key"
            ) from None
        return KeyInfo(name, account or AccountId.from_key(public), public, path)
