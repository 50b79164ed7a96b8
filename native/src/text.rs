//! Bech32m (BIP 350) encoding, natively: every event and index names accounts
//! as `urbis1…`, and the Python encoder was a visible share of a transfer.
//! `urbis/crypto/bech32m.py` stays the reference (and the decoder).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32M_CONST: u32 = 0x2BC8_30A3;
const GENERATOR: [u32; 5] = [
    0x3B6A_57B2,
    0x2650_8E6D,
    0x1EA1_19FA,
    0x3D42_33DD,
    0x2A14_62B3,
];

fn polymod(values: &[u8]) -> u32 {
    let mut checksum: u32 = 1;
    for value in values {
        let top = checksum >> 25;
        checksum = ((checksum & 0x1FF_FFFF) << 5) ^ u32::from(*value);
        for (bit, term) in GENERATOR.iter().enumerate() {
            if (top >> bit) & 1 == 1 {
                checksum ^= term;
            }
        }
    }
    checksum
}

/// `prefix` + "1" + data in 5-bit groups + a 6-character bech32m checksum.
#[pyfunction]
pub fn bech32m_encode(prefix: &str, data: &[u8]) -> PyResult<String> {
    if prefix.is_empty() || !prefix.bytes().all(|c| (33..=126).contains(&c)) {
        return Err(PyValueError::new_err("prefix must be printable ASCII"));
    }
    let mut groups = Vec::with_capacity(data.len() * 8 / 5 + 1);
    let (mut accumulator, mut bits) = (0u32, 0u32);
    for byte in data {
        accumulator = (accumulator << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            groups.push(((accumulator >> bits) & 31) as u8);
        }
        accumulator &= (1 << bits) - 1;
    }
    if bits > 0 {
        groups.push(((accumulator << (5 - bits)) & 31) as u8);
    }
    let mut values: Vec<u8> = prefix.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(prefix.bytes().map(|c| c & 31));
    values.extend_from_slice(&groups);
    values.extend_from_slice(&[0; 6]);
    let checksum = polymod(&values) ^ BECH32M_CONST;
    let mut text = String::with_capacity(prefix.len() + 1 + groups.len() + 6);
    text.push_str(prefix);
    text.push('1');
    for group in groups {
        text.push(CHARSET[group as usize] as char);
    }
    for i in 0..6 {
        text.push(CHARSET[((checksum >> (5 * (5 - i))) & 31) as usize] as char);
    }
    if text.len() > 90 {
        return Err(PyValueError::new_err(
            "bech32m text is at most 90 characters",
        ));
    }
    Ok(text)
}
