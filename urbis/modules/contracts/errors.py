"""Contracts errors and their stable codes."""

from urbis.chain.errors import error_class

UnknownContract = error_class("contracts.unknown_contract", "Unknown contract", 404)
AddressTaken = error_class("contracts.address_taken", "Contract address taken", 409)
CompileFailed = error_class("contracts.compile_failed", "Source does not compile", 422)
BytecodeMismatch = error_class(
    "contracts.bytecode_mismatch", "Bytecode differs from the approved proposal", 422
)
UnsupportedCompiler = error_class("contracts.unsupported_compiler", "Unsupported compiler", 422)
Reverted = error_class("contracts.reverted", "Contract reverted", 409)
OutOfGas = error_class("contracts.out_of_gas", "Out of gas", 409)
Halted = error_class("contracts.halted", "Contract halted", 409)
BlockGasExhausted = error_class(
    "contracts.block_gas_exhausted", "Block gas limit reached", 409, True
)
CreateForbidden = error_class(
    "contracts.create_forbidden", "Contracts deploy only through the council", 403
)
BadNativeCall = error_class("contracts.bad_native_call", "Malformed native bridge call", 422)
NativeWriteInStaticCall = error_class(
    "contracts.static_native_write", "A read-only call tried to change native state", 409
)
