//! Deterministic CBOR decoding with the canonical check in the same pass.
//!
//! `urbis/crypto/encoding.py::decode_reference` decodes with cbor2, walks the
//! value, then re-encodes it to compare bytes: three passes and most of a
//! transaction's decode time. This reads once and refuses anything that is not
//! already in the one encoding Urbis writes: shortest heads, definite lengths,
//! text map keys in encoded-byte order without repeats, integers beyond 64
//! bits only as minimal bignum tags, no floats, no other tags or simple values.

use std::sync::{Mutex, OnceLock};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

const MAX_DEPTH: usize = 32;

/// Short texts kept as Python strings, by place (a hash of their bytes picks the slot;
/// a different text in it is replaced). Map keys and names ("body", "sender",
/// "payments", "EUR") repeat in every transaction and stored record: a kept string is
/// handed out again instead of allocated, and its hash, computed once, serves every
/// dict it goes into. Bounded by the slot count whatever the input.
const TEXT_SLOTS: usize = 4096;
const TEXT_KEPT_MAX: usize = 32;

type TextSlot = Option<(Box<[u8]>, Py<PyString>)>;

fn texts() -> &'static Mutex<Vec<TextSlot>> {
    static TEXTS: OnceLock<Mutex<Vec<TextSlot>>> = OnceLock::new();
    TEXTS.get_or_init(|| Mutex::new((0..TEXT_SLOTS).map(|_| None).collect()))
}

fn text_slot(raw: &[u8]) -> usize {
    // FNV-1a: a short text's slot, cheaply. Collisions only cost an allocation.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in raw {
        hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
    }
    hash as usize % TEXT_SLOTS
}

fn text<'py>(py: Python<'py>, checked: &str) -> Bound<'py, PyString> {
    let raw = checked.as_bytes();
    if raw.len() > TEXT_KEPT_MAX {
        return PyString::new(py, checked);
    }
    let slot = text_slot(raw);
    let mut slots = texts().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((kept, string)) = &slots[slot] {
        if **kept == *raw {
            return string.clone_ref(py).into_bound(py);
        }
    }
    let string = PyString::new(py, checked);
    slots[slot] = Some((raw.into(), string.clone().unbind()));
    string
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn fail<T>(message: &str) -> PyResult<T> {
    Err(PyValueError::new_err(message.to_string()))
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: u64) -> PyResult<&'a [u8]> {
        let count =
            usize::try_from(count).map_err(|_| PyValueError::new_err("length too large"))?;
        if self.data.len() - self.pos < count {
            return fail("truncated CBOR");
        }
        let slice = &self.data[self.pos..self.pos + count];
        self.pos += count;
        Ok(slice)
    }

    /// (major type, argument), refusing non-shortest and indefinite forms.
    fn head(&mut self) -> PyResult<(u8, u8, u64)> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 31);
        let argument = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let size = 1u64 << (info - 24);
                let mut value = 0u64;
                for byte in self.take(size)? {
                    value = (value << 8) | u64::from(*byte);
                }
                let minimum = match info {
                    24 => 24,
                    25 => 1 << 8,
                    26 => 1 << 16,
                    _ => 1 << 32,
                };
                if major != 7 && value < minimum {
                    return fail("CBOR is not in deterministic (canonical) form");
                }
                value
            }
            31 => return fail("indefinite lengths are not allowed"),
            _ => return fail("reserved CBOR head"),
        };
        Ok((major, info, argument))
    }

    fn value<'py>(&mut self, py: Python<'py>, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        let (major, info, argument) = self.head()?;
        match major {
            0 => Ok(argument.into_pyobject(py)?.into_any()),
            1 => Ok((-1i128 - i128::from(argument))
                .into_pyobject(py)?
                .into_any()),
            2 => Ok(PyBytes::new(py, self.take(argument)?).into_any()),
            3 => {
                let checked = std::str::from_utf8(self.take(argument)?)
                    .map_err(|_| PyValueError::new_err("text is not valid UTF-8"))?;
                Ok(text(py, checked).into_any())
            }
            4 => {
                if depth > MAX_DEPTH {
                    return fail("nesting deeper than 32");
                }
                let list = PyList::empty(py);
                for _ in 0..argument {
                    list.append(self.value(py, depth + 1)?)?;
                }
                Ok(list.into_any())
            }
            5 => {
                if depth > MAX_DEPTH {
                    return fail("nesting deeper than 32");
                }
                let dict = PyDict::new(py);
                let mut previous: Option<&[u8]> = None;
                for _ in 0..argument {
                    let start = self.pos;
                    let key = self.value(py, depth + 1)?;
                    if !key.is_instance_of::<PyString>() {
                        return fail("map keys must be text");
                    }
                    let encoded = &self.data[start..self.pos];
                    if previous.is_some_and(|p| p >= encoded) {
                        return fail("CBOR is not in deterministic (canonical) form");
                    }
                    previous = Some(encoded);
                    dict.set_item(key, self.value(py, depth + 1)?)?;
                }
                Ok(dict.into_any())
            }
            6 => {
                if argument != 2 && argument != 3 {
                    return fail("tags are not allowed");
                }
                let (inner, _, length) = self.head()?;
                if inner != 2 {
                    return fail("a bignum holds bytes");
                }
                let magnitude = self.take(length)?;
                if magnitude.len() <= 8 || magnitude[0] == 0 {
                    // Up to 64 bits an integer is written plainly; no leading zeros.
                    return fail("CBOR is not in deterministic (canonical) form");
                }
                let int = py.get_type::<pyo3::types::PyInt>();
                let value = int.call_method1("from_bytes", (PyBytes::new(py, magnitude), "big"))?;
                if argument == 2 {
                    Ok(value)
                } else {
                    Ok((-1i64).into_pyobject(py)?.into_any().sub(value)?)
                }
            }
            _ => match info {
                20 => Ok(false.into_pyobject(py)?.to_owned().into_any()),
                21 => Ok(true.into_pyobject(py)?.to_owned().into_any()),
                22 => Ok(py.None().into_bound(py)),
                _ => fail("floats and simple values are not allowed"),
            },
        }
    }
}

/// Decode one deterministic CBOR value; ValueError with the reason otherwise.
#[pyfunction]
pub fn cbor_decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut reader = Reader { data, pos: 0 };
    let value = reader.value(py, 0)?;
    if reader.pos != data.len() {
        return fail("trailing bytes after the CBOR value");
    }
    Ok(value)
}

fn put_head(out: &mut Vec<u8>, major: u8, argument: u64) {
    let major = major << 5;
    if argument < 24 {
        out.push(major | argument as u8);
    } else if argument < 1 << 8 {
        out.extend_from_slice(&[major | 24, argument as u8]);
    } else if argument < 1 << 16 {
        out.push(major | 25);
        out.extend_from_slice(&(argument as u16).to_be_bytes());
    } else if argument < 1 << 32 {
        out.push(major | 26);
        out.extend_from_slice(&(argument as u32).to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&argument.to_be_bytes());
    }
}

/// A value this encoder does not write: the caller falls back to cbor2.
fn unsupported<T>() -> PyResult<T> {
    Err(pyo3::exceptions::PyTypeError::new_err(
        "not natively encodable",
    ))
}

fn put_int(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(small) = value.extract::<i128>() {
        if small >= 0 && small < 1i128 << 64 {
            put_head(out, 0, small as u64);
            return Ok(());
        }
        if small < 0 && small >= -(1i128 << 64) {
            put_head(out, 1, (-1 - small) as u64);
            return Ok(());
        }
    }
    // Beyond 64 bits: a bignum tag over the minimal big-endian magnitude.
    let negative = value.lt(0)?;
    let magnitude = if negative {
        value.neg()?.sub(1)?
    } else {
        value.clone()
    };
    let bits: usize = magnitude.call_method0("bit_length")?.extract()?;
    let raw: Vec<u8> = magnitude
        .call_method1("to_bytes", (bits.div_ceil(8), "big"))?
        .extract()?;
    put_head(out, 6, if negative { 3 } else { 2 });
    put_head(out, 2, raw.len() as u64);
    out.extend_from_slice(&raw);
    Ok(())
}

fn put_value(out: &mut Vec<u8>, value: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth > 64 {
        return unsupported();
    }
    if value.is_none() {
        out.push(0xf6);
    } else if let Ok(flag) = value.cast_exact::<pyo3::types::PyBool>() {
        out.push(if flag.is_true() { 0xf5 } else { 0xf4 });
    } else if value.is_exact_instance_of::<pyo3::types::PyInt>() {
        put_int(out, value)?;
    } else if let Ok(bytes) = value.cast_exact::<PyBytes>() {
        put_head(out, 2, bytes.as_bytes().len() as u64);
        out.extend_from_slice(bytes.as_bytes());
    } else if let Ok(text) = value.cast_exact::<PyString>() {
        let text = text.to_str()?;
        put_head(out, 3, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    } else if let Ok(list) = value.cast_exact::<PyList>() {
        put_head(out, 4, list.len() as u64);
        for item in list.iter() {
            put_value(out, &item, depth + 1)?;
        }
    } else if let Ok(tuple) = value.cast_exact::<pyo3::types::PyTuple>() {
        put_head(out, 4, tuple.len() as u64);
        for item in tuple.iter() {
            put_value(out, &item, depth + 1)?;
        }
    } else if let Ok(dict) = value.cast_exact::<PyDict>() {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            if !key.is_exact_instance_of::<PyString>() {
                return unsupported();
            }
            let mut encoded_key = Vec::new();
            put_value(&mut encoded_key, &key, depth + 1)?;
            let mut encoded_item = Vec::new();
            put_value(&mut encoded_item, &item, depth + 1)?;
            entries.push((encoded_key, encoded_item));
        }
        // Canonical order: by the keys' encoded bytes (for text keys, shorter first).
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        put_head(out, 5, entries.len() as u64);
        for (key, item) in entries {
            out.extend_from_slice(&key);
            out.extend_from_slice(&item);
        }
    } else {
        return unsupported();
    }
    Ok(())
}

/// Canonical CBOR of None, bools, ints, bytes, str, lists, tuples and str-keyed
/// dicts, byte for byte what cbor2's canonical mode writes; TypeError otherwise.
#[pyfunction]
pub fn cbor_encode<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(64);
    put_value(&mut out, value, 0)?;
    Ok(PyBytes::new(py, &out))
}
