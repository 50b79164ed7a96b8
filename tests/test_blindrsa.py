"""RFC 9474 blind signatures: the RFC's own test vectors (Appendix A), the round trip for
random messages, the failures a cheating client or signer causes, and both directions
against Cloudflare's implementation (npm @cloudflare/blindrsa-ts).

The finalized signatures are checked by the `cryptography` package's RSASSA-PSS verifier,
an implementation independent of the blinding code under test.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import gmpy2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.crypto import blindrsa
from urbis.crypto.blindrsa import BlindSignatureError

# RFC 9474 Appendix A: one 4096-bit key, one message, the same salt and inv for every
# variant. A.1 is RSABSSA-SHA384-PSS-Randomized (msg_prefix), A.3 PSS-Deterministic.
N_HEX = (
    "aec4d69addc70b990ea66a5e70603b6fee27aafebd08f2d94cbe1250c556e047a928d635c3f45ee9b66d1bc6"
    "28a03bac9b7c3f416fe20dabea8f3d7b4bbf7f963be335d2328d67e6c13ee4a8f955e05a3283720d3e1f139c"
    "38e43e0338ad058a9495c53377fc35be64d208f89b4aa721bf7f7d3fef837be2a80e0f8adf0bcd1eec5bb040"
    "443a2b2792fdca522a7472aed74f31a1ebe1eebc1f408660a0543dfe2a850f106a617ec6685573702eaaa21a"
    "5640a5dcaf9b74e397fa3af18a2f1b7c03ba91a6336158de420d63188ee143866ee415735d155b7c2d854d79"
    "5b7bc236cffd71542df34234221a0413e142d8c61355cc44d45bda94204974557ac2704cd8b593f035a5724b"
    "1adf442e78c542cd4414fce6f1298182fb6d8e53cef1adfd2e90e1e4deec52999bdc6c29144e8d52a125232c"
    "8c6d75c706ea3cc06841c7bda33568c63a6c03817f722b50fcf898237d788a4400869e44d90a3020923dc646"
    "388abcc914315215fcd1bae11b1c751fd52443aac8f601087d8d42737c18a3fa11ecd4131ecae017ae0a14ac"
    "fc4ef85b83c19fed33cfd1cd629da2c4c09e222b398e18d822f77bb378dea3cb360b605e5aa58b20edc29d00"
    "0a66bd177c682a17e7eb12a63ef7c2e4183e0d898f3d6bf567ba8ae84f84f1d23bf8b8e261c3729e2fa6d07b"
    "832e07cddd1d14f55325c6f924267957121902dc19b3b32948bdead5"
)
D_HEX = (
    "0d43242aefe1fb2c13fbc66e20b678c4336d20b1808c558b6e62ad16a287077180b177e1f01b12f9c6cd6c52"
    "630257ccef26a45135a990928773f3bd2fc01a313f1dac97a51cec71cb1fd7efc7adffdeb05f1fb04812c924"
    "ed7f4a8269925dad88bd7dcfbc4ef01020ebfc60cb3e04c54f981fdbd273e69a8a58b8ceb7c2d83fbcbd6f78"
    "4d052201b88a9848186f2a45c0d2826870733e6fd9aa46983e0a6e82e35ca20a439c5ee7b502a9062e106649"
    "3bdadf8b49eb30d9558ed85abc7afb29b3c9bc644199654a4676681af4babcea4e6f71fe4565c9c1b85d9985"
    "b84ec1abf1a820a9bbebee0df1398aae2c85ab580a9f13e7743afd3108eb32100b870648fa6bc17e8abac4d3"
    "c99246b1f0ea9f7f93a5dd5458c56d9f3f81ff2216b3c3680a13591673c43194d8e6fc93fc1e37ce2986bd62"
    "8ac48088bc723d8fbe293861ca7a9f4a73e9fa63b1b6d0074f5dea2a624c5249ff3ad811b6255b299d6bc545"
    "1ba7477f19c5a0db690c3e6476398b1483d10314afd38bbaf6e2fbdbcd62c3ca9797a420ca6034ec0a83360a"
    "3ee2adf4b9d4ba29731d131b099a38d6a23cc463db754603211260e99d19affc902c915d7854554aabf608e3"
    "ac52c19b8aa26ae042249b17b2d29669b5c859103ee53ef9bdc73ba3c6b537d5c34b6d8f034671d7f3a8a696"
    "6cc4543df223565343154140fd7391c7e7be03e241f4ecfeb877a051"
)
INV = (
    "80682c48982407b489d53d1261b19ec8627d02b8cda5336750b8cee332ae260de57b02d72609c1e0e9f28e20"
    "40fc65b6f02d56dbd6aa9af8fde656f70495dfb723ba01173d4707a12fddac628ca29f3e32340bd8f7ddb557"
    "cf819f6b01e445ad96f874ba235584ee71f6581f62d4f43bf03f910f6510deb85e8ef06c7f09d9794a008be7"
    "ff2529f0ebb69decef646387dc767b74939265fec0223aa6d84d2a8a1cc912d5ca25b4e144ab8f6ba054b549"
    "10176d5737a2cff011da431bd5f2a0d2d66b9e70b39f4b050e45c0d9c16f02deda9ddf2d00f3e4b01037d702"
    "9cd49c2d46a8e1fc2c0c17520af1f4b5e25ba396afc4cd60c494a4c426448b35b49635b337cfb08e7c22a39b"
    "256dd032c00adddafb51a627f99a0e1704170ac1f1912e49d9db10ec04c19c58f420212973e0cb329524223a"
    "6aa56c7937c5dffdb5d966b6cd4cbc26f3201dd25c80960a1a111b32947bb78973d269fac7f5186530930ed1"
    "9f68507540eed9e1bab8b00f00d8ca09b3f099aae46180e04e3584bd7ca054df18a1504b89d1d1675d0966c4"
    "ae1407be325cdf623cf13ff13e4a28b594d59e3eadbadf6136eee7a59d6a444c9eb4e2198e8a974f27a39eb6"
    "3af2c9af3870488b8adaad444674f512133ad80b9220e09158521614f1faadfe8505ef57b7df6813048603f0"
    "dd04f4280177a11380fbfc861dbcbd7418d62155248dad5fdec0991f"
)
MSG = (
    "8f3dc6fb8c4a02f4d6352edf0907822c1210a9b32f9bdda4c45a698c80023aa6b59f8cfec5fdbb36331372eb"
    "efedae7d"
)
SALT = (
    "051722b35f458781397c3a671a7d3bd3096503940e4c4f1aaa269d60300ce449555cd7340100df9d46944c53"
    "56825abf"
)
R_PREFIX = "8417e699b219d583fb6216ae0c53ca0e9723442d02f1d1a34295527e7d929e8b"
R_BLINDED = (
    "aa3ee045138d874669685ffaef962c7694a9450aa9b4fd6465db9b3b75a522bb921c4c0fdcdfae9667593255"
    "099cff51f5d3fd65e8ffb9d3b3036252a6b51b6edfb3f40382b2bbf34c0055e4cbcc422850e586d84f190cd4"
    "49af11dc65545f5fe26fd89796eb87da4bda0c545f397cddfeeb56f06e28135ec74fd477949e7677f6f36cfa"
    "e8fd5c1c5898b03b9c244cf6d1a4fb7ad1cb43aff5e80cb462fac541e72f67f0a50f1843d1759edfaae92d1a"
    "916d3f0efaf4d650db416c3bf8abdb5414a78cebc97de676723cb119e77aea489f2bbf530c440ebc5a75dccd"
    "3ebf5a412a5f346badd61bee588e5917bdcce9dc33c882e39826951b0b8276c6203971947072b726e9358160"
    "56ff5cb11a71ca2946478584126bb877acdf87255f26e6cca4e0878801307485d3b7bb89b289551a8b65a7a6"
    "b93db010423d1406e149c87731910306e5e410b41d4da3234624e74f92845183e323cf7eb244f212a695f885"
    "6c675fbc3a021ce649e22c6f0d053a9d238841cf3afdc2739f99672a419ae13c17f1f8a3bc302ec2e7b98e8c"
    "353898b7150ad8877ec841ea6e4b288064c254fefd0d049c3ad196bf7ffa535e74585d0120ce728036ed5009"
    "42fbd5e6332c298f1ffebe9ff60c1e117b274cf0cb9d70c36ee4891528996ec1ed0b178e9f3c0c0e6120885f"
    "39e8ccaadbb20f3196378c07b1ff22d10049d3039a7a92fe7efdd95d"
)
R_BLIND_SIG = (
    "3f4a79eacd4445fca628a310d41e12fcd813c4d43aa4ef2b81226953248d6d00adfee6b79cb88bfa1f992703"
    "69fd063c023e5ed546719b0b2d143dd1bca46b0e0e615fe5c63d95c5a6b873b8b50bc52487354e69c3dfbf41"
    "6e7aca18d5842c89b676efdd38087008fa5a810161fcdec26f20ccf2f1e6ab0f9d2bb93e051cb9e86a9b28c5"
    "bb62fd5f5391379f887c0f706a08bcc3b9e7506aaf02485d688198f5e22eefdf837b2dd919320b17482c5cc5"
    "4271b4ccb41d267629b3f844fd63750b01f5276c79e33718bb561a152acb2eb36d8be75bce05c9d1b94eb609"
    "106f38226fb2e0f5cd5c5c39c59dda166862de498b8d92f6bcb41af433d65a2ac23da87f39764cb64e79e74a"
    "8f4ce4dd567480d967cefac46b6e9c06434c3715635834357edd2ce6f105eea854ac126ccfa3de2aac560756"
    "5a4e5efaac5eed491c335f6fc97e6eb7e9cea3e12de38dfb315220c0a3f84536abb2fdd722813e083feda010"
    "391ac3d8fd1cd9212b5d94e634e69ebcc800c4d5c4c1091c64afc37acf563c7fc0a6e4c082bc55544f50a797"
    "1f3fb97d5853d72c3af34ffd5ce123998be5360d1059820c66a81e1ee6d9c1803b5b62af6bc877526df255b6"
    "d1d835d8c840bebbcd6cc0ee910f17da37caf8488afbc08397a1941fcc79e76a5888a95b3d5405e13f737bea"
    "5c78d716a48eb9dc0aec8de39c4b45c6914ad4a8185969f70b1adf46"
)
R_SIG = (
    "191e941c57510e22d29afad257de5ca436d2316221fe870c7cb75205a6c071c2735aed0bc24c37f3d5bd960a"
    "b97a829a508f966bbaed7a82645e65eadaf24ab5e6d9421392c5b15b7f9b640d34fec512846a3100b80f75ef"
    "51064602118c1a77d28d938f6efc22041d60159a518d3de7c4d840c9c68109672d743d299d8d2577ef60c19a"
    "b463c716b3fa75fa56f5735349d414a44df12bf0dd44aa3e10822a651ed4cb0eb6f47c9bd0ef14a034a7ac24"
    "51e30434d513eb22e68b7587a8de9b4e63a059d05c8b22c7c51e2cfee2d8bef511412e93c859a13726d87c57"
    "d1bc4c2e68ab121562f839c3a3d233e87ed63c69b7e57525367753fbebcc2a9805a2802659f5888b2c69115b"
    "f865559f10d906c09d048a0d71bfee4b33857393ec2b69e451433496d02c9a7910abb954317720bbde9e6910"
    "8eafc3e90bad3d5ca4066d7b1e49013fa04e948104a1dd82b12509ecb146e948c54bd8bfb5e6d18127cd1f7a"
    "93c3cf9f2d869d5a78878c03fe808a0d799e910be6f26d18db61c485b303631d3568368fc41986d08a95ea6a"
    "c0592240c19d7b22416b9c82ae6241e211dd5610d0baaa9823158f9c32b66318f5529491b7eeadcaa71898a6"
    "3bac9d95f4aa548d5e97568d744fc429104e32edd9c87519892a198a30d333d427739ffb9607b092e910ae37"
    "771abf2adb9f63bc058bf58062ad456cb934679795bbdfcdfad5e0f2"
)
D_BLINDED = (
    "10c166c6a711e81c46f45b18e5873cc4f494f003180dd7f115585d871a28930259654fe28a54dab319cc5011"
    "204c8373b50a57b0fdc7a678bd74c523259dfe4fd5ea9f52f170e19dfa332930ad1609fc8a00902d725cfe50"
    "685c95e5b2968c9a2828a21207fcf393d15f849769e2af34ac4259d91dfd98c3a707c509e1af55647efaa312"
    "90ddf48e0133b798562af5eabd327270ac2fb6c594734ce339a14ea4fe1b9a2f81c0bc230ca523bda17ff42a"
    "377266bc2778a274c0ae5ec5a8cbbe364fcf0d2403f7ee178d77ff28b67a20c7ceec009182dbcaa9bc99b51e"
    "bbf13b7d542be337172c6474f2cd3561219fe0dfa3fb207cff89632091ab841cf38d8aa88af6891539f263ad"
    "b8eac6402c41b6ebd72984e43666e537f5f5fe27b2b5aa114957e9a580730308a5f5a9c63a1eb599f093ab40"
    "1d0c6003a451931b6d124180305705845060ebba6b0036154fcef3e5e9f9e4b87e8f084542fd1dd67e7782a5"
    "585150181c01eb6d90cb95883837384a5b91dbb606f266059ecc51b5acbaa280e45cfd2eec8cc1cdb1b7211c"
    "8e14805ba683f9b78824b2eb005bc8a7d7179a36c152cb87c8219e5569bba911bb32a1b923ca83de0e03fb10"
    "fba75d85c55907dda5a2606bf918b056c3808ba496a4d95532212040a5f44f37e1097f26dc27b98a51837daa"
    "78f23e532156296b64352669c94a8a855acf30533d8e0594ace7c442"
)
D_BLIND_SIG = (
    "364f6a40dbfbc3bbb257943337eeff791a0f290898a6791283bba581d9eac90a6376a837241f5f73a78a5c67"
    "46e1306ba3adab6067c32ff69115734ce014d354e2f259d4cbfb890244fd451a497fe6ecf9aa90d19a2d4411"
    "62f7eaa7ce3fc4e89fd4e76b7ae585be2a2c0fd6fb246b8ac8d58bcb585634e30c9168a434786fe5e0b74bfe"
    "8187b47ac091aa571ffea0a864cb906d0e28c77a00e8cd8f6aba4317a8cc7bf32ce566bd1ef80c64de041728"
    "abe087bee6cadd0b7062bde5ceef308a23bd1ccc154fd0c3a26110df6193464fc0d24ee189aea8979d722170"
    "ba945fdcce9b1b4b63349980f3a92dc2e5418c54d38a862916926b3f9ca270a8cf40dfb9772bfbdd9a3e0e08"
    "92369c18249211ba857f35963d0e05d8da98f1aa0c6bba58f47487b8f663e395091275f82941830b050b260e"
    "4767ce2fa903e75ff8970c98bfb3a08d6db91ab1746c86420ee2e909bf681cac173697135983c3594b2def67"
    "3736220452fde4ddec867d40ff42dd3da36c84e3e52508b891a00f50b4f62d112edb3b6b6cc3dbd546ba10f3"
    "6b03f06c0d82aeec3b25e127af545fac28e1613a0517a6095ad18a98ab79f68801e05c175e15bae21f821e80"
    "c80ab4fdec6fb34ca315e194502b8f3dcf7892b511aee45060e3994cd15e003861bc7220a2babd7b40eda033"
    "82548a34a7110f9b1779bf3ef6011361611e6bc5c0dc851e1509de1a"
)
D_SIG = (
    "6fef8bf9bc182cd8cf7ce45c7dcf0e6f3e518ae48f06f3c670c649ac737a8b8119a34d51641785be151a697e"
    "d7825fdfece82865123445eab03eb4bb91cecf4d6951738495f8481151b62de869658573df4e50a95c17c31b"
    "52e154ae26a04067d5ecdc1592c287550bb982a5bb9c30fd53a768cee6baabb3d483e9f1e2da954c7f4cf492"
    "fe3944d2fe456c1ecaf0840369e33fb4010e6b44bb1d721840513524d8e9a3519f40d1b81ae34fb7a31ee6b7"
    "ed641cb16c2ac999004c2191de0201457523f5a4700dd649267d9286f5c1d193f1454c9f868a57816bf5ff76"
    "c838a2eeb616a3fc9976f65d4371deecfbab29362caebdff69c635fe5a2113da4d4d8c24f0b16a0584fa05e8"
    "0e607c5d9a2f765f1f069f8d4da21f27c2a3b5c984b4ab24899bef46c6d9323df4862fe51ce300fca40fb539"
    "c3bb7fe2dcc9409e425f2d3b95e70e9c49c5feb6ecc9d43442c33d50003ee936845892fb8be475647da9a080"
    "f5bc7f8a716590b3745c2209fe05b17992830ce15f32c7b22cde755c8a2fe50bd814a0434130b807dc1b7218"
    "d4e85342d70695a5d7f29306f25623ad1e8aa08ef71b54b8ee447b5f64e73d09bdd6c3b7ca224058d7c67cc7"
    "551e9241688ada12d859cb7646fbd3ed8b34312f3b49d69802f0eaa11bc4211c2f7a29cd5c01ed01a39001c5"
    "856fab36228f5ee2f2e1110811872fe7c865c42ed59029c706195d52"
)

VECTORS = {
    "RSABSSA-SHA384-PSS-Randomized": (R_PREFIX, R_BLINDED, R_BLIND_SIG, R_SIG),
    "RSABSSA-SHA384-PSS-Deterministic": ("", D_BLINDED, D_BLIND_SIG, D_SIG),
}


@functools.cache
def rfc_key() -> rsa.RSAPrivateKey:
    n, e, d = int(N_HEX, 16), 65537, int(D_HEX, 16)
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    return rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    ).private_key()


@functools.cache
def small_key() -> rsa.RSAPrivateKey:
    return blindrsa.generate_private_key(2048)


@pytest.mark.parametrize("variant", sorted(VECTORS))
def test_rfc9474_vectors(variant: str) -> None:
    prefix, blinded_hex, blind_sig_hex, sig_hex = VECTORS[variant]
    key = rfc_key()
    public = key.public_key()
    input_msg = bytes.fromhex(prefix + MSG)
    r = int(gmpy2.invert(int(INV, 16), public.public_numbers().n))
    blinded = blindrsa.blind(public, input_msg, salt=bytes.fromhex(SALT), r=r)
    assert blinded.blinded_msg.hex() == blinded_hex
    assert blinded.inv.hex() == INV
    blind_sig = blindrsa.blind_sign(key, blinded.blinded_msg)
    assert blind_sig.hex() == blind_sig_hex
    sig = blindrsa.finalize(public, input_msg, blind_sig, blinded.inv)
    assert sig.hex() == sig_hex
    # An independent RSASSA-PSS verifier accepts it as an ordinary signature.
    public.verify(
        sig,
        input_msg,
        padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48),
        hashes.SHA384(),
    )


def test_prepare_randomized_prefixes_32_fresh_bytes() -> None:
    first, second = blindrsa.prepare(b"ballot key"), blindrsa.prepare(b"ballot key")
    assert first[32:] == second[32:] == b"ballot key"
    assert first != second
    assert blindrsa.prepare(b"ballot key", randomized=False) == b"ballot key"


@settings(max_examples=8, deadline=None)
@given(msg=st.binary(max_size=200))
def test_round_trip_for_any_message(msg: bytes) -> None:
    key = small_key()
    input_msg = blindrsa.prepare(msg)
    blinded = blindrsa.blind(key.public_key(), input_msg)
    sig = blindrsa.finalize(
        key.public_key(), input_msg, blindrsa.blind_sign(key, blinded.blinded_msg), blinded.inv
    )
    blindrsa.verify(key.public_key(), input_msg, sig)


def test_the_signer_sees_a_different_value_each_time() -> None:
    """Blinding is what makes the registrar's records unjoinable to ballot keys."""
    key = small_key()
    msg = blindrsa.prepare(b"same key", randomized=False)
    assert (
        blindrsa.blind(key.public_key(), msg).blinded_msg
        != blindrsa.blind(key.public_key(), msg).blinded_msg
    )


def test_a_flipped_signature_bit_is_invalid_signature() -> None:
    key = small_key()
    msg = blindrsa.prepare(b"m")
    blinded = blindrsa.blind(key.public_key(), msg)
    sig = blindrsa.finalize(
        key.public_key(), msg, blindrsa.blind_sign(key, blinded.blinded_msg), blinded.inv
    )
    forged = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(BlindSignatureError, match="invalid signature"):
        blindrsa.verify(key.public_key(), msg, forged)
    with pytest.raises(BlindSignatureError, match="invalid signature"):
        blindrsa.verify(key.public_key(), msg + b"x", sig)


def test_a_signature_by_another_key_is_invalid() -> None:
    key, other = small_key(), rfc_key()
    msg = blindrsa.prepare(b"m")
    blinded = blindrsa.blind(key.public_key(), msg)
    with pytest.raises(BlindSignatureError):
        # the other signer's blind signature does not finalize under this key
        blindrsa.finalize(
            key.public_key(),
            msg,
            blindrsa.blind_sign(other, bytes(512))[-256:],
            blinded.inv,
        )


def test_finalize_catches_a_signer_that_signed_something_else() -> None:
    key = small_key()
    msg = blindrsa.prepare(b"m")
    blinded = blindrsa.blind(key.public_key(), msg)
    other = blindrsa.blind(key.public_key(), blindrsa.prepare(b"n"))
    with pytest.raises(BlindSignatureError, match="invalid signature"):
        blindrsa.finalize(
            key.public_key(), msg, blindrsa.blind_sign(key, other.blinded_msg), blinded.inv
        )


def test_blinded_message_of_wrong_length_or_range_is_refused() -> None:
    key = small_key()
    with pytest.raises(BlindSignatureError, match="256 bytes"):
        blindrsa.blind_sign(key, b"\x01" * 255)
    with pytest.raises(BlindSignatureError, match="out of range"):
        blindrsa.blind_sign(key, b"\xff" * 256)


def test_keys_under_2048_bits_are_refused() -> None:
    with pytest.raises(BlindSignatureError, match="2048"):
        blindrsa.generate_private_key(1024)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(BlindSignatureError, match="2048"):
        blindrsa.load_public_key(blindrsa.public_key_bytes(weak.public_key()))
    with pytest.raises(BlindSignatureError, match="not a DER"):
        blindrsa.load_public_key(b"junk")


def test_public_key_bytes_round_trip() -> None:
    public = small_key().public_key()
    loaded = blindrsa.load_public_key(blindrsa.public_key_bytes(public))
    assert loaded.public_numbers() == public.public_numbers()


# -- against an independent implementation: Cloudflare's @cloudflare/blindrsa-ts (npm) --------

INTEROP = Path(__file__).parent / "interop-blindrsa"


def cloudflare(payload: dict[str, str]) -> dict[str, Any]:
    """One step run by tests/interop-blindrsa/blindrsa.mjs (installed by
    scripts/install-blindrsa-interop)."""
    done = subprocess.run(
        ["node", "blindrsa.mjs"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=INTEROP,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_our_client_with_cloudflares_signer() -> None:
    key = small_key()
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    msg = blindrsa.prepare(b"a ballot key")
    blinded = blindrsa.blind(key.public_key(), msg)
    answer = cloudflare(
        {
            "op": "sign",
            "pkcs8": base64.b64encode(pkcs8).decode(),
            "blinded_msg": blinded.blinded_msg.hex(),
        }
    )
    sig = blindrsa.finalize(key.public_key(), msg, bytes.fromhex(answer["blind_sig"]), blinded.inv)
    blindrsa.verify(key.public_key(), msg, sig)


def test_cloudflares_client_with_our_signer() -> None:
    key = small_key()
    spki = base64.b64encode(blindrsa.public_key_bytes(key.public_key())).decode()
    blinded = cloudflare({"op": "blind", "spki": spki, "msg": b"a ballot key".hex()})
    prepared = bytes.fromhex(blinded["prepared"])
    assert prepared[32:] == b"a ballot key"  # PrepareRandomize: 32 random bytes first
    blind_sig = blindrsa.blind_sign(key, bytes.fromhex(blinded["blinded_msg"]))
    final = cloudflare(
        {
            "op": "finalize",
            "spki": spki,
            "prepared": blinded["prepared"],
            "blind_sig": blind_sig.hex(),
            "inv": blinded["inv"],
        }
    )
    assert final["valid"] is True
    blindrsa.verify(key.public_key(), prepared, bytes.fromhex(final["sig"]))
