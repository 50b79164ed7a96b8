"""The generated CometBFT protobuf modules (see protogen.py; scripts/install-cometbft)."""

from __future__ import annotations

import sys
from pathlib import Path

PB = Path(__file__).resolve().parent / "pb"
if not (PB / "tendermint" / "abci" / "types_pb2.py").exists():
    raise ImportError(
        "CometBFT protobuf types are not generated; run scripts/install-cometbft first"
    )
if str(PB) not in sys.path:
    # protoc writes absolute imports (`from tendermint.crypto import ...`).
    sys.path.append(str(PB))

from tendermint.abci import types_pb2 as abci  # noqa: E402
from tendermint.crypto import keys_pb2 as crypto_keys  # noqa: E402
from tendermint.types import canonical_pb2 as canonical  # noqa: E402
from tendermint.types import types_pb2 as types  # noqa: E402
from tendermint.types import validator_pb2 as validator  # noqa: E402
from tendermint.version import types_pb2 as version  # noqa: E402

__all__ = ["abci", "canonical", "crypto_keys", "types", "validator", "version"]
