"""Every state key the contracts module writes.

EVM storage lives here slot by slot, so the app hash covers every slot and
each one has its own inclusion proof.
"""

PREFIX = b"contracts/"


def account(address: bytes) -> bytes:
    """A contract account's nonce and code hash (residents have no EVM record)."""
    return b"contracts/account/" + address


def code(code_hash: bytes) -> bytes:
    return b"contracts/code/" + code_hash


def slot(address: bytes, index: bytes) -> bytes:
    return b"contracts/storage/" + address + index


def meta(address: bytes) -> bytes:
    """What was approved: name, version, compiler, ABI, proposal."""
    return b"contracts/meta/" + address


def source(address: bytes) -> bytes:
    return b"contracts/source/" + address


def name(contract_name: str) -> bytes:
    """The versions deployed under a name, newest last."""
    return b"contracts/name/" + contract_name.encode()
