"""RSA blind signatures, RFC 9474: RSABSSA-SHA384-PSS, randomized and deterministic.

The four steps of RFC 9474 §4, under the names the RFC gives them:

    prepare(msg, randomized)                  -> input_msg (32 random bytes || msg, or msg)
    blind(public_key, input_msg)              -> (blinded_msg, inv)          client
    blind_sign(private_key, blinded_msg)      -> blind_sig                   signer
    finalize(public_key, input_msg, blind_sig, inv) -> sig                   client
    verify(public_key, input_msg, sig)        -> raises BlindSignatureError if invalid

The signer never sees `input_msg`, and a finalized signature is an ordinary RSASSA-PSS
signature (SHA-384, MGF1-SHA-384, 48-byte salt) over it, so `verify` is the
`cryptography` package's RSA-PSS verifier: an implementation independent of ours
checks every signature we produce. EMSA-PSS encoding (RFC 8017 §9.1.1) is written here
because blinding needs the encoded message itself; the raw RSA operations use gmpy2.

Urbis uses the randomized variant (RSABSSA-SHA384-PSS-Randomized), which RFC 9474 §5
recommends when the message may be chosen by someone other than the client.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import gmpy2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HASH_LENGTH = 48
"""SHA-384's output length, and RSABSSA-SHA384-PSS's salt length (RFC 9474 §5)."""
PREFIX_LENGTH = 32
"""Random bytes the randomized preparation puts before the message (RFC 9474 §4.1)."""
MODULUS_BITS_MIN = 2048
"""RFC 9474 §7.1's smallest recommended modulus; smaller keys are refused."""


class BlindSignatureError(ValueError):
    """A blinding, signing, finalization or verification failed (RFC 9474's errors:
    "message too long", "invalid input", "signing failure", "invalid signature")."""


@dataclass(frozen=True, slots=True)
class Blinded:
    """What `blind` returns: the value sent to the signer, and the client's secret."""

    blinded_msg: bytes
    inv: bytes


def prepare(msg: bytes, randomized: bool = True) -> bytes:
    """RFC 9474 §4.1: PrepareRandomize (32 fresh random bytes || msg) or PrepareIdentity."""
    return secrets.token_bytes(PREFIX_LENGTH) + msg if randomized else msg


def generate_private_key(bits: int = 3072) -> rsa.RSAPrivateKey:
    """A signer key (e = 65537); 3072 bits by default, at least 2048."""
    if bits < MODULUS_BITS_MIN:
        raise BlindSignatureError(f"an RSA blind-signature key needs {MODULUS_BITS_MIN}+ bits")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_key_bytes(key: rsa.RSAPublicKey) -> bytes:
    """DER SubjectPublicKeyInfo: the form a registrar's key is published in."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(der: bytes) -> rsa.RSAPublicKey:
    """The inverse of `public_key_bytes`; anything but an RSA key of 2048+ bits is refused."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as error:
        raise BlindSignatureError(f"not a DER public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BlindSignatureError("the key is not an RSA key")
    if key.key_size < MODULUS_BITS_MIN:
        raise BlindSignatureError(f"an RSA blind-signature key needs {MODULUS_BITS_MIN}+ bits")
    return key


# -- RFC 8017 building blocks ------------------------------------------------------------


def _i2osp(value: int, length: int) -> bytes:
    return int(value).to_bytes(length, "big")


def _os2ip(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _mgf1_sha384(seed: bytes, length: int) -> bytes:
    output = b""
    counter = 0
    while len(output) < length:
        output += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return output[:length]


def emsa_pss_encode(msg: bytes, em_bits: int, salt: bytes) -> bytes:
    """RFC 8017 §9.1.1 with SHA-384 and MGF1-SHA-384; `salt` is the sLen-byte salt."""
    em_len = (em_bits + 7) // 8
    m_hash = hashlib.sha384(msg).digest()
    if em_len < HASH_LENGTH + len(salt) + 2:
        raise BlindSignatureError("encoding error: the modulus is too small for this salt")
    h = hashlib.sha384(b"\x00" * 8 + m_hash + salt).digest()
    padding_string = b"\x00" * (em_len - len(salt) - HASH_LENGTH - 2)
    db = padding_string + b"\x01" + salt
    mask = _mgf1_sha384(h, em_len - HASH_LENGTH - 1)
    masked = bytearray(a ^ b for a, b in zip(db, mask, strict=True))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def _modulus(key: rsa.RSAPublicKey) -> tuple[int, int, int]:
    numbers = key.public_numbers()
    return numbers.n, numbers.e, (numbers.n.bit_length() + 7) // 8


# -- RFC 9474 §4 ---------------------------------------------------------------------------


def blind(
    public_key: rsa.RSAPublicKey,
    input_msg: bytes,
    salt: bytes | None = None,
    r: int | None = None,
) -> Blinded:
    """RFC 9474 §4.2. `salt` and `r` are drawn fresh unless a test fixes them."""
    n, e, modulus_len = _modulus(public_key)
    salt = secrets.token_bytes(HASH_LENGTH) if salt is None else salt
    encoded = emsa_pss_encode(input_msg, n.bit_length() - 1, salt)
    m = _os2ip(encoded)
    if gmpy2.gcd(m, n) != 1:
        raise BlindSignatureError("invalid input: the encoded message shares a factor with n")
    while True:
        candidate = secrets.randbelow(n - 1) + 1 if r is None else r
        if gmpy2.gcd(candidate, n) == 1:
            break
        if r is not None:
            raise BlindSignatureError("invalid input: r shares a factor with n")
    inv = int(gmpy2.invert(candidate, n))
    x = gmpy2.powmod(candidate, e, n)
    z = (m * x) % n
    return Blinded(_i2osp(int(z), modulus_len), _i2osp(inv, modulus_len))


def blind_sign(private_key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 §4.3: RSASP1 with CRT, then the RFC's check that RSAVP1 undoes it
    (a fault in the signing computation would otherwise leak a factor of n)."""
    private = private_key.private_numbers()
    n, e = private.public_numbers.n, private.public_numbers.e
    modulus_len = (n.bit_length() + 7) // 8
    if len(blinded_msg) != modulus_len:
        raise BlindSignatureError(
            f"a blinded message is {modulus_len} bytes, not {len(blinded_msg)}"
        )
    m = _os2ip(blinded_msg)
    if m >= n:
        raise BlindSignatureError("message representative out of range")
    s1 = gmpy2.powmod(m, private.dmp1, private.p)
    s2 = gmpy2.powmod(m, private.dmq1, private.q)
    h = (private.iqmp * (s1 - s2)) % private.p
    s = s2 + private.q * h
    if gmpy2.powmod(s, e, n) != m:
        raise BlindSignatureError("signing failure")
    return _i2osp(int(s), modulus_len)


def finalize(public_key: rsa.RSAPublicKey, input_msg: bytes, blind_sig: bytes, inv: bytes) -> bytes:
    """RFC 9474 §4.4: unblind, then verify; a signer that cheated is caught here."""
    n, _, modulus_len = _modulus(public_key)
    if len(blind_sig) != modulus_len:
        raise BlindSignatureError(f"a blind signature is {modulus_len} bytes, not {len(blind_sig)}")
    z = _os2ip(blind_sig)
    if z >= n:
        raise BlindSignatureError("blind signature out of range")
    s = (z * _os2ip(inv)) % n
    sig = _i2osp(s, modulus_len)
    verify(public_key, input_msg, sig)
    return sig


def verify(public_key: rsa.RSAPublicKey, input_msg: bytes, sig: bytes) -> None:
    """RSASSA-PSS-VERIFY with RSABSSA-SHA384-PSS's parameters (RFC 9474 §4.5)."""
    _, _, modulus_len = _modulus(public_key)
    if len(sig) != modulus_len:
        raise BlindSignatureError(f"a signature is {modulus_len} bytes, not {len(sig)}")
    try:
        public_key.verify(
            sig,
            input_msg,
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=HASH_LENGTH),
            hashes.SHA384(),
        )
    except InvalidSignature:
        raise BlindSignatureError("invalid signature") from None
