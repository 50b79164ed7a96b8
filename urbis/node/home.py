"""A node's home folder and how a city is founded in it.

<home>/config.toml         node settings (API address, block interval, ...)
<home>/genesis.json        the city as it started
<home>/validator_key.json  this node's validator key (mode 0600, unencrypted:
                           a validator signs unattended, as CometBFT's does)
<home>/keys/<name>.json    account keys, encrypted with a passphrase
<home>/data/urbis.db       blocks, state values and the tree's node log (SQLite, WAL)
<home>/data/urbis.db.nodes the state tree's node segments and location snapshots: a
                           backup or copy of a node must take this folder with urbis.db
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisError,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.sdk.keystore import KeyStore

DEV_PASSPHRASE = ""
"""Dev-city keys use the empty passphrase so the demo works with no prompt. Never in production."""

DEV_DEPARTMENTS = (
    ("land", "Land Registry"),
    ("finance", "Finance Department"),
    ("registry", "Civil Registry"),
    ("transport", "Public Transport"),
    ("utilities", "City Utilities"),
)
DEV_COUNCIL = ("mayor", "councillor-a", "councillor-b")
MORE_DEPARTMENTS = (
    ("police", "City Police"),
    ("health", "Public Health"),
    ("parks", "Parks and Gardens"),
    ("schools", "Schools"),
    ("housing", "Housing"),
)
"""Departments a testnet adds when it has more validators than the five dev departments."""


class HomeError(Exception):
    """The home folder is missing, incomplete or holds something unexpected."""


@dataclass
class NodeConfig:
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    block_interval_ms: int = 1000
    max_block_txs: int = 5000
    empty_blocks: bool = False
    keep_versions: int = 1000
    state_node_cache_mib: int = 512
    """Memory for the state tree: its upper levels, the deeper nodes read from disk, the
    key filter and the location run's fences (state README, "The node cache"). 512 MiB
    suits a 4 GiB server and holds up to some 130 million keys; beside it the node keeps
    the value cache and the locations changed since the last snapshot, bounded whatever
    the state's size. The node logs a warning when the state outgrows it."""
    consensus: str = "solo"
    abci_address: str = "tcp://127.0.0.1:26658"
    cometbft_rpc: str = "http://127.0.0.1:26657"
    cometbft_home: str = "cometbft"
    api_body_max_bytes: int = 1 << 20
    """Largest request body the API reads (413 above it): one transaction is far smaller."""
    api_batch_body_max_bytes: int = 8 << 20
    """Largest body for `POST /v1/txs/batch`: 10,000 typical transactions fit."""
    public_url: str = ""
    """The city's public base URL (https://id.city.example): every identifier a wallet or
    verifier dereferences (issuer, credential type, status list) is under it. Empty: this
    node's own API address, as the dev city uses."""
    identity_keys: str = ""
    """Comma-separated key names (in HOME/keys) of departments whose credential issuance
    and Status List Tokens this node's API serves; unlocked with URBIS_PASSPHRASE."""

    status_signers: str = ""
    """Comma-separated `ACCOUNT=KEYNAME` pairs: the department key (in HOME/keys) that signs
    the Status List Tokens of a keyless account's lists (a contract's, e.g. licensing)."""

    @property
    def base_url(self) -> str:
        """`public_url`, or this node's API address when none is set."""
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def identity_key_names(self) -> list[str]:
        return [name.strip() for name in self.identity_keys.split(",") if name.strip()]

    @property
    def status_signer_names(self) -> dict[str, str]:
        """Account (as written) -> the key name that signs its lists' tokens."""
        pairs = [item.split("=", 1) for item in self.status_signers.split(",") if item.strip()]
        return {account.strip(): name.strip() for account, name in pairs}

    def to_toml(self) -> str:
        lines = ["# Urbis node settings; see `urbis up --help`.", "[node]"]
        for name, value in asdict(self).items():
            if isinstance(value, bool):
                lines.append(f"{name} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{name} = {value}")
            else:
                lines.append(f'{name} = "{value}"')
        return "\n".join(lines) + "\n"

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> NodeConfig:
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise HomeError(f"unknown node setting(s): {', '.join(unknown)}")
        config = cls(**data)
        if config.consensus not in ("solo", "cometbft"):
            raise HomeError(f"consensus must be solo or cometbft, not {config.consensus!r}")
        if not 1 <= config.api_port <= 65535:
            raise HomeError("api_port must be 1 to 65535")
        if config.block_interval_ms < 10 or config.max_block_txs < 1 or config.keep_versions < 1:
            raise HomeError("block_interval_ms >= 10, max_block_txs >= 1, keep_versions >= 1")
        if not 16 <= config.state_node_cache_mib <= 1 << 20:
            raise HomeError("state_node_cache_mib must be 16 to 1048576")
        if config.api_body_max_bytes < 1024 or config.api_batch_body_max_bytes < 1024:
            raise HomeError("api_body_max_bytes and api_batch_body_max_bytes must be >= 1024")
        if any("=" not in item for item in config.status_signers.split(",") if item.strip()):
            raise HomeError("status_signers must be ACCOUNT=KEYNAME pairs, comma-separated")
        if config.public_url:
            from urbis.sdk.identity_urls import normalise_base

            try:
                config.public_url = normalise_base(config.public_url)
            except ValueError as error:
                raise HomeError(str(error)) from None
        return config


class Home:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def genesis_path(self) -> Path:
        return self.path / "genesis.json"

    @property
    def validator_key_path(self) -> Path:
        return self.path / "validator_key.json"

    @property
    def db_path(self) -> Path:
        return self.path / "data" / "urbis.db"

    @property
    def keystore(self) -> KeyStore:
        return KeyStore(self.path / "keys")

    def is_initialized(self) -> bool:
        if not self.genesis_path.exists():
            return False
        if self.validator_key_path.exists():
            return True
        return (self.path / "cometbft" / "config" / "priv_validator_key.json").exists()

    def load_config(self) -> NodeConfig:
        if not self.config_path.exists():
            return NodeConfig()
        try:
            data = tomllib.loads(self.config_path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise HomeError(f"cannot read {self.config_path}: {error}") from None
        return NodeConfig.from_mapping(data.get("node", {}))

    def save_config(self, config: NodeConfig) -> None:
        self.config_path.write_text(config.to_toml())

    def load_genesis(self) -> Genesis:
        return Genesis.load(self.genesis_path)

    def load_validator_key(self) -> PrivateKey:
        try:
            data = json.loads(self.validator_key_path.read_text())
            return PrivateKey(bytes.fromhex(data["seed"]))
        except (OSError, ValueError, KeyError) as error:
            raise HomeError(f"cannot read {self.validator_key_path}: {error}") from None

    def write_validator_key(self, key: PrivateKey) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.validator_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"public_key": key.public_key.hex(), "seed": key.seed.hex()}, handle)

    def ensure_dirs(self) -> None:
        (self.path / "data").mkdir(parents=True, exist_ok=True)


def create_dev_city(
    home: Home, chain_id: str = "urbis-dev", config: NodeConfig | None = None
) -> Genesis:
    """A demo city: five departments (admin + notary in one account), a 2-of-3 council."""
    if home.is_initialized():
        raise HomeError(f"{home.path} already holds a node")
    home.ensure_dirs()
    validator = PrivateKey.generate()
    home.write_validator_key(validator)
    genesis = dev_city_genesis(
        home.keystore, chain_id, [GenesisValidator("city-hall", validator.public_key.raw, 10)]
    )
    genesis.save(home.genesis_path)
    config = config or NodeConfig()
    if not config.identity_keys:
        # every dev department issues and signs status tokens from this node's API
        config.identity_keys = ",".join(department for department, _ in DEV_DEPARTMENTS)
    home.save_config(config)
    return genesis


def dev_city_genesis(
    keystore: KeyStore,
    chain_id: str,
    validators: list[GenesisValidator],
    departments: tuple[tuple[str, str], ...] = DEV_DEPARTMENTS,
    extra: tuple[tuple[GenesisAccount, str], ...] = (),
) -> Genesis:
    """The dev city's genesis; its keys are made in `keystore` (empty passphrase) if missing.

    `extra` adds accounts with one role each (e.g. many notaries for a load test).
    """
    accounts: list[GenesisAccount] = [account for account, _ in extra]
    founded: list[GenesisDepartment] = []
    roles: list[tuple[str, AccountId]] = [(role, account.id) for account, role in extra]
    for department_id, name in departments:
        info = _dev_key(keystore, department_id)
        accounts.append(GenesisAccount(department_id, (GenesisKey(info.public_key),)))
        founded.append(GenesisDepartment(department_id, name, info.account))
        roles.append((f"{department_id}.notary", info.account))
    council = []
    for member in DEV_COUNCIL:
        info = _dev_key(keystore, member)
        accounts.append(GenesisAccount(member, (GenesisKey(info.public_key),)))
        council.append(info.account)
    genesis = Genesis(
        chain_id=chain_id,
        name="Urbis Dev City",
        time_ms=time.time_ns() // 1_000_000,
        accounts=tuple(accounts),
        departments=tuple(founded),
        council_members=tuple(council),
        council_threshold=2,
        validators=tuple(validators),
        roles=tuple(roles),
    )
    genesis.validate()
    return genesis


def _dev_key(keystore: KeyStore, name: str) -> Any:
    try:
        return keystore.info(name)
    except Exception:
        return keystore.create(name, DEV_PASSPHRASE)


def init_from_city_file(home: Home, city_file: Path, passphrase: str) -> Genesis:
    """Found a city from a `city.toml` (see README: "Founding a real city").

    Accounts list public keys, or `generate = true` to create a key in this
    home's wallet under `passphrase`. A validator without `key` is this node.
    """
    if home.is_initialized():
        raise HomeError(f"{home.path} already holds a node")
    try:
        city = tomllib.loads(city_file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise HomeError(f"cannot read {city_file}: {error}") from None
    home.ensure_dirs()
    keystore = home.keystore
    by_name: dict[str, AccountId] = {}
    accounts: list[GenesisAccount] = []
    try:
        for entry in city.get("accounts", []):
            name = entry["name"]
            if entry.get("generate"):
                info = keystore.create(name, passphrase)
                key_list: list[bytes] = [info.public_key]
            else:
                key_list = [bytes.fromhex(k) for k in entry["keys"]]
            weights = entry.get("weights", [1] * len(key_list))
            account = GenesisAccount(
                name,
                tuple(GenesisKey(k, w) for k, w in zip(key_list, weights, strict=True)),
                int(entry.get("threshold", 1)),
            )
            accounts.append(account)
            by_name[name] = account.id

        def account_of(name: str) -> AccountId:
            if name in by_name:
                return by_name[name]
            return AccountId.parse(name)

        validator_key = PrivateKey.generate()
        validators = []
        for entry in city.get("validators", [{"name": "this-node"}]):
            key = bytes.fromhex(entry["key"]) if "key" in entry else validator_key.public_key.raw
            validators.append(GenesisValidator(entry["name"], key, int(entry.get("power", 10))))
        genesis = Genesis(
            chain_id=city["chain_id"],
            name=city.get("name", city["chain_id"]),
            time_ms=int(city.get("genesis_time_ms", time.time_ns() // 1_000_000)),
            accounts=tuple(accounts),
            departments=tuple(
                GenesisDepartment(d["id"], d["name"], account_of(d["admin"]))
                for d in city.get("departments", [])
            ),
            council_members=tuple(account_of(m) for m in city["council"]["members"]),
            council_threshold=int(city["council"]["threshold"]),
            validators=tuple(validators),
            roles=tuple((r["role"], account_of(r["account"])) for r in city.get("roles", [])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise HomeError(f"{city_file}: missing or bad field: {error}") from None
    try:
        genesis.validate()
    except GenesisError as error:
        raise HomeError(f"{city_file}: {error}") from None
    home.write_validator_key(validator_key)
    genesis.save(home.genesis_path)
    home.save_config(NodeConfig.from_mapping(city.get("node", {})))
    return genesis
