//! `urbis._native`: the node's native code. This file: revm for Urbis, one EVM
//! message call over state the Python host owns; `smt.rs` (state tree), `cbor.rs`
//! (canonical CBOR) and `text.rs` (bech32m) and `sig.rs` (Ed25519 checks off the GIL) are the other hot paths.
//!
//! Why an extension of our own rather than pyrevm: block execution needs three
//! things pyrevm lacks. State is read through the host (the Urbis authenticated
//! store), the result is a structured diff the host writes itself, and a few
//! addresses are *native bridges* answered by the host (payments, governance,
//! identity) with EVM revert semantics.
//!
//! Native effects and reverts: the host records each successful native call as
//! a layer of writes. Which layers survive is decided by revm's own journal: a
//! successful native call `i` stores 1 in slot `i` of the marker account, so a
//! reverted frame reverts its marks with everything else. Before native call
//! `k` the host is told which earlier calls are still alive, and after the call
//! the final marks say which layers to apply.

mod alloc;
mod cbor;
mod keyfilter;
mod locations;
mod merkle;
mod sig;
mod smt;
mod text;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use revm::bytecode::Bytecode;
use revm::context::{
    BlockEnv, CfgEnv, Context, ContextTr, Evm, FrameStack, Journal, LocalContext, TxEnv,
};
use revm::context_interface::result::{ExecutionResult, Output};
use revm::context_interface::{Cfg, JournalTr};
use revm::database_interface::{DBErrorMarker, Database};
use revm::handler::instructions::EthInstructions;
use revm::handler::{EthFrame, EthPrecompiles, ExecuteEvm, PrecompileProvider};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{CallInputs, CallScheme, Gas, InstructionResult, InterpreterResult};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, AddressSet, Bytes, TxKind, B256, KECCAK_EMPTY, U256};
use revm::state::AccountInfo;

#[global_allocator]
static ALLOCATOR: alloc::HugeTables = alloc::HugeTables;

/// Holds one storage slot per native call; never part of the returned diff.
const MARKER: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x00,
]);

/// The EVM revision every node runs. Changing it is a chain upgrade.
const SPEC: SpecId = SpecId::CANCUN;

/// A host callback failed. The Python exception itself is kept aside and re-raised.
#[derive(Debug)]
struct HostError(String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}
impl DBErrorMarker for HostError {}

type ErrorSlot = Rc<RefCell<Option<PyErr>>>;

fn keep(slot: &ErrorSlot, err: PyErr) -> HostError {
    let text = err.to_string();
    slot.borrow_mut().get_or_insert(err);
    HostError(text)
}

struct HostDb<'py> {
    host: Bound<'py, PyAny>,
    error: ErrorSlot,
}

impl HostDb<'_> {
    fn account(&mut self, address: Address) -> PyResult<Option<AccountInfo>> {
        let py = self.host.py();
        let found = self
            .host
            .call_method1("account", (PyBytes::new(py, address.as_slice()),))?;
        if found.is_none() {
            return Ok(None);
        }
        let (nonce, code_hash, code): (u64, Vec<u8>, Vec<u8>) = found.extract()?;
        let mut info = AccountInfo::default();
        info.nonce = nonce;
        if code.is_empty() {
            info.code_hash = KECCAK_EMPTY;
            info.code = Some(Bytecode::default());
        } else {
            if code_hash.len() != 32 {
                return Err(PyRuntimeError::new_err("code hash must be 32 bytes"));
            }
            info.code_hash = B256::from_slice(&code_hash);
            info.code = Some(Bytecode::new_raw(Bytes::from(code)));
        }
        Ok(Some(info))
    }

    fn slot(&mut self, address: Address, index: U256) -> PyResult<U256> {
        let py = self.host.py();
        let value = self.host.call_method1(
            "storage",
            (
                PyBytes::new(py, address.as_slice()),
                PyBytes::new(py, &index.to_be_bytes::<32>()),
            ),
        )?;
        let raw: Vec<u8> = value.extract()?;
        if raw.len() > 32 {
            return Err(PyRuntimeError::new_err(
                "a storage value is at most 32 bytes",
            ));
        }
        Ok(U256::from_be_slice(&raw))
    }
}

impl Database for HostDb<'_> {
    type Error = HostError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, HostError> {
        if address == MARKER {
            // A nonce keeps the marker from counting as an empty account.
            let mut info = AccountInfo::default();
            info.nonce = 1;
            return Ok(Some(info));
        }
        self.account(address).map_err(|e| keep(&self.error, e))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, HostError> {
        // `basic` always hands over the code, so revm never asks by hash.
        Err(HostError(format!(
            "code {code_hash} was not loaded with its account"
        )))
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, HostError> {
        if address == MARKER {
            return Ok(U256::ZERO);
        }
        self.slot(address, index).map_err(|e| keep(&self.error, e))
    }

    fn block_hash(&mut self, _number: u64) -> Result<B256, HostError> {
        // Urbis exposes no block hashes to contracts: nothing to grind on.
        Ok(B256::ZERO)
    }
}

/// Ethereum's precompiles plus the host's native bridges.
struct UrbisPrecompiles<'py> {
    eth: EthPrecompiles,
    native: Vec<Address>,
    warm: AddressSet,
    host: Bound<'py, PyAny>,
    error: ErrorSlot,
    calls: u64,
}

impl UrbisPrecompiles<'_> {
    fn rebuild_warm(&mut self) {
        let mut warm = self.eth.warm_addresses().clone();
        warm.extend(self.native.iter().copied());
        self.warm = warm;
    }

    fn native_call<CTX: ContextTr>(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<InterpreterResult, String> {
        let gas_limit = inputs.gas_limit;
        // A bridge acts for its direct caller. Through DELEGATECALL or CALLCODE the
        // caller would be someone else's (a contract could spend its users' money).
        if !matches!(inputs.scheme, CallScheme::Call | CallScheme::StaticCall)
            || inputs.target_address != inputs.bytecode_address
        {
            let mut gas = Gas::new(gas_limit);
            gas.spend_all();
            return Ok(InterpreterResult::new(
                InstructionResult::PrecompileError,
                Bytes::new(),
                gas,
            ));
        }
        // The journal's sload/sstore assume a loaded account.
        context
            .journal_mut()
            .load_account(MARKER)
            .map_err(|e| e.to_string())?;
        let mut alive = Vec::new();
        for index in 0..self.calls {
            let mark = context
                .journal_mut()
                .sload(MARKER, U256::from(index))
                .map_err(|e| e.to_string())?;
            if !mark.data.is_zero() {
                alive.push(index);
            }
        }
        let input = inputs.input.bytes(context);
        let index = self.calls;
        self.calls += 1;
        let py = self.host.py();
        let answer = self
            .host
            .call_method1(
                "native",
                (
                    index,
                    alive,
                    PyBytes::new(py, inputs.caller.as_slice()),
                    PyBytes::new(py, inputs.bytecode_address.as_slice()),
                    PyBytes::new(py, &input),
                    inputs.is_static,
                    gas_limit,
                ),
            )
            .and_then(|a| a.extract::<(u8, Vec<u8>, u64, bool)>());
        let (status, output, gas_used, wrote) = match answer {
            Ok(answer) => answer,
            Err(err) => return Err(keep(&self.error, err).0),
        };
        let mut gas = Gas::new(gas_limit);
        if gas_used > gas_limit || !gas.record_regular_cost(gas_used) {
            gas.spend_all();
            return Ok(InterpreterResult::new(
                InstructionResult::PrecompileOOG,
                Bytes::new(),
                gas,
            ));
        }
        let result = match status {
            0 => {
                if wrote {
                    context
                        .journal_mut()
                        .sstore(MARKER, U256::from(index), U256::from(1))
                        .map_err(|e| e.to_string())?;
                }
                InstructionResult::Return
            }
            1 => InstructionResult::Revert,
            _ => {
                gas.spend_all();
                return Ok(InterpreterResult::new(
                    InstructionResult::PrecompileError,
                    Bytes::new(),
                    gas,
                ));
            }
        };
        Ok(InterpreterResult::new(result, Bytes::from(output), gas))
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for UrbisPrecompiles<'_> {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.rebuild_warm();
        }
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if self.native.contains(&inputs.bytecode_address) {
            return self.native_call(context, inputs).map(Some);
        }
        <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.eth, context, inputs)
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        self.warm.contains(address)
    }
}

fn address(raw: &[u8], what: &str) -> PyResult<Address> {
    if raw.len() != 20 {
        return Err(PyRuntimeError::new_err(format!("{what} must be 20 bytes")));
    }
    Ok(Address::from_slice(raw))
}

fn is_system(address: &Address, native: &[Address], eth: &AddressSet) -> bool {
    *address == MARKER || native.contains(address) || eth.contains(address)
}

/// One message call (or, with `to=None`, a contract creation) over the host's state.
///
/// Returns `(status, reason, gas_used, output, created, logs, diff, alive)`:
/// status is "success", "revert" or "halt"; `diff` lists touched contract accounts
/// by address as `(address, nonce or None, code_hash or None, code or None,
/// destroyed, [(slot, value)])`, slots sorted; `alive` the native calls to keep.
/// Only a success carries a diff. Everything is sorted so every node sees the same bytes.
#[pyfunction]
#[pyo3(signature = (host, caller, to, data, gas_limit, number, timestamp, chain_id, native))]
#[allow(clippy::too_many_arguments)]
fn execute<'py>(
    py: Python<'py>,
    host: Bound<'py, PyAny>,
    caller: &[u8],
    to: Option<&[u8]>,
    data: &[u8],
    gas_limit: u64,
    number: u64,
    timestamp: u64,
    chain_id: u64,
    native: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, PyAny>> {
    let caller = address(caller, "caller")?;
    let kind = match to {
        Some(raw) => TxKind::Call(address(raw, "to")?),
        None => TxKind::Create,
    };
    let native: Vec<Address> = native
        .iter()
        .map(|raw| address(raw, "a native address"))
        .collect::<PyResult<_>>()?;
    let error: ErrorSlot = Rc::new(RefCell::new(None));
    let db = HostDb {
        host: host.clone(),
        error: error.clone(),
    };
    let ctx: Context<BlockEnv, TxEnv, CfgEnv, HostDb, Journal<HostDb>, (), LocalContext> =
        Context::new(db, SPEC)
            .modify_cfg_chained(|cfg| {
                cfg.chain_id = chain_id;
                cfg.disable_nonce_check = true;
            })
            .modify_block_chained(|block: &mut BlockEnv| {
                block.number = U256::from(number);
                block.timestamp = U256::from(timestamp);
                block.gas_limit = gas_limit;
                block.basefee = 0;
                block.prevrandao = Some(B256::ZERO);
            });
    let eth = EthPrecompiles::new(SPEC);
    let mut precompiles = UrbisPrecompiles {
        eth,
        native: native.clone(),
        warm: AddressSet::default(),
        host: host.clone(),
        error: error.clone(),
        calls: 0,
    };
    precompiles.rebuild_warm();
    let eth_addresses = precompiles.eth.warm_addresses().clone();
    let mut evm: Evm<_, (), _, _, EthFrame<EthInterpreter>> = Evm {
        ctx,
        inspector: (),
        instruction: EthInstructions::new_mainnet_with_spec(SPEC),
        precompiles,
        frame_stack: FrameStack::new_prealloc(8),
    };
    let _: &Journal<HostDb> = &evm.ctx.journaled_state;
    let tx = TxEnv::builder()
        .caller(caller)
        .gas_limit(gas_limit)
        .gas_price(0)
        .kind(kind)
        .data(Bytes::copy_from_slice(data))
        .chain_id(Some(chain_id))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("bad transaction: {e:?}")))?;
    let outcome = evm.transact(tx);
    if let Some(err) = error.borrow_mut().take() {
        return Err(err);
    }
    let outcome = outcome.map_err(|e| PyRuntimeError::new_err(format!("evm: {e}")))?;
    let state = outcome.state;
    let (status, reason, gas_used, output, created, logs) = match outcome.result {
        ExecutionResult::Success {
            reason,
            gas,
            logs,
            output,
        } => {
            let (out, created) = match output {
                Output::Call(bytes) => (bytes, None),
                Output::Create(bytes, address) => (bytes, address),
            };
            (
                "success",
                format!("{reason:?}"),
                gas.tx_gas_used(),
                out,
                created,
                logs,
            )
        }
        ExecutionResult::Revert {
            gas,
            logs: _,
            output,
        } => (
            "revert",
            String::new(),
            gas.tx_gas_used(),
            output,
            None,
            Vec::new(),
        ),
        ExecutionResult::Halt {
            reason,
            gas,
            logs: _,
        } => (
            "halt",
            format!("{reason:?}"),
            gas.tx_gas_used(),
            Bytes::new(),
            None,
            Vec::new(),
        ),
    };
    let py_logs = PyList::empty(py);
    for log in &logs {
        let topics: Vec<Bound<'py, PyBytes>> = log
            .data
            .topics()
            .iter()
            .map(|t| PyBytes::new(py, t.as_slice()))
            .collect();
        py_logs.append((
            PyBytes::new(py, log.address.as_slice()),
            topics,
            PyBytes::new(py, &log.data.data),
        ))?;
    }
    let diff = PyList::empty(py);
    let mut alive: Vec<u64> = Vec::new();
    if status == "success" {
        if let Some(marker) = state.get(&MARKER) {
            for (slot, value) in marker.storage.iter() {
                if !value.present_value.is_zero() {
                    alive.push(slot.to::<u64>());
                }
            }
            alive.sort_unstable();
        }
        let mut touched: Vec<&Address> = state.keys().collect();
        touched.sort();
        for addr in touched {
            if is_system(addr, &native, &eth_addresses) {
                continue;
            }
            let account = &state[addr];
            let has_code = account.info.code_hash != KECCAK_EMPTY;
            let created = account.is_created();
            let mut slots: Vec<(U256, U256)> = account
                .storage
                .iter()
                .filter(|(_, slot)| slot.is_changed())
                .map(|(key, slot)| (*key, slot.present_value))
                .collect();
            slots.sort_unstable_by_key(|(key, _)| *key);
            let nonce_changed = account.info.nonce != account.original_info().nonce;
            let destroyed = account.is_selfdestructed();
            // Accounts without code are residents: their EVM nonce is not kept.
            let nonce = if (has_code || created) && (nonce_changed || created) {
                Some(account.info.nonce)
            } else {
                None
            };
            if nonce.is_none() && slots.is_empty() && !created && !destroyed {
                continue;
            }
            let (code_hash, code) = if created && has_code {
                let code = account
                    .info
                    .code
                    .as_ref()
                    .map(|c| c.original_bytes())
                    .unwrap_or_default();
                (
                    Some(PyBytes::new(py, account.info.code_hash.as_slice())),
                    Some(PyBytes::new(py, &code)),
                )
            } else {
                (None, None)
            };
            let py_slots: Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> = slots
                .iter()
                .map(|(k, v)| {
                    (
                        PyBytes::new(py, &k.to_be_bytes::<32>()),
                        PyBytes::new(py, &v.to_be_bytes::<32>()),
                    )
                })
                .collect();
            diff.append((
                PyBytes::new(py, addr.as_slice()),
                nonce,
                code_hash,
                code,
                destroyed,
                py_slots,
            ))?;
        }
    }
    let created = created.map(|a| PyBytes::new(py, a.as_slice()));
    (
        status,
        reason,
        gas_used,
        PyBytes::new(py, &output),
        created,
        py_logs,
        diff,
        alive,
    )
        .into_pyobject(py)
        .map(|t| t.into_any())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(execute, m)?)?;
    m.add_function(wrap_pyfunction!(smt::smt_update, m)?)?;
    m.add_function(wrap_pyfunction!(smt::smt_apply_changes, m)?)?;
    m.add_class::<smt::NodeIndex>()?;
    m.add_class::<smt::NodeBatch>()?;
    m.add_function(wrap_pyfunction!(merkle::merkle_root, m)?)?;
    m.add_function(wrap_pyfunction!(sig::ed25519_verify_many, m)?)?;
    m.add_function(wrap_pyfunction!(sig::ed25519_verify, m)?)?;
    m.add_function(wrap_pyfunction!(sig::ed25519_key_accepted, m)?)?;
    m.add_function(wrap_pyfunction!(smt::state_items, m)?)?;
    m.add_function(wrap_pyfunction!(text::bech32m_encode, m)?)?;
    m.add_function(wrap_pyfunction!(cbor::cbor_decode, m)?)?;
    m.add_function(wrap_pyfunction!(cbor::cbor_encode, m)?)?;
    m.add("SPEC", format!("{SPEC:?}"))?;
    m.add("MARKER", PyBytes::new(m.py(), MARKER.as_slice()))?;
    Ok(())
}
