// The resident space and the department console: this browser's account key, sign-in, and
// transactions built and signed here.
//
// The key is an Ed25519 WebCrypto key made non-extractable: script (ours or injected) can ask
// it to sign, but nobody, not even this page, can read the private key out. It is kept in
// IndexedDB, so it survives reloads and stays on this device. The node only ever receives
// signed transactions (the same envelope the CLI sends: urbis/chain/tx.py).
"use strict";
(function () {
  const V = window.urbisVerify;
  const encoder = new TextEncoder();
  const german = document.documentElement.lang === "de";
  const say = (en, de) => (german ? de : en);
  const main = document.querySelector("main");
  const chainId = main.dataset.chain;

  // -- the device key ----------------------------------------------------------------------
  function store(mode, work) {
    return new Promise((resolve, reject) => {
      const opening = indexedDB.open("urbis-portal", 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore("keys");
      opening.onerror = () => reject(opening.error);
      opening.onsuccess = () => {
        const request = work(opening.result.transaction("keys", mode).objectStore("keys"));
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      };
    });
  }
  async function deviceKey() {
    let pair = await store("readonly", (keys) => keys.get(chainId));
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      await store("readwrite", (keys) => keys.put(pair, chainId));
    }
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const account = V.bech32m("urbis", (await V.tagged("account", publicKey)).slice(0, 20));
    return { pair, publicKey, account };
  }
  const sign = async (key, message) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.pair.privateKey, message));

  // -- deterministic CBOR for transactions (RFC 8949 §4.2.1) --------------------------------
  // Values: BigInt or safe Number integers, strings, Uint8Array, booleans, null, arrays, and
  // plain objects with text keys (written in the bytewise order of their encoded keys).
  function cbor(value) {
    if (value === null) return Uint8Array.of(0xf6);
    if (value === true) return Uint8Array.of(0xf5);
    if (value === false) return Uint8Array.of(0xf4);
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new Error("only integers");
      value = BigInt(value);
    }
    if (typeof value === "bigint") return value < 0n ? V.head(1, -1n - value) : V.head(0, value);
    if (typeof value === "string") { const b = encoder.encode(value); return V.concat(V.head(3, b.length), b); }
    if (value instanceof Uint8Array) return V.concat(V.head(2, value.length), value);
    if (Array.isArray(value)) return V.concat(V.head(4, value.length), ...value.map(cbor));
    const entries = Object.keys(value).map((k) => [cbor(k), cbor(value[k])]);
    entries.sort((a, b) => V.compareBytes(a[0], b[0]));
    return V.concat(V.head(5, entries.length), ...entries.flat());
  }
  function accountBytes(text) {
    // the 20 bytes of urbis1…, checked by re-encoding
    const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    const data = text.trim().slice(6, -6).split("").map((c) => CHARSET.indexOf(c));
    if (!text.trim().startsWith("urbis1") || data.some((d) => d < 0)) throw new Error(say("not an account id: ", "keine Kontonummer: ") + text);
    const out = [];
    let acc = 0, bits = 0;
    for (const d of data) { acc = (acc << 5) | d; bits += 5; if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); } }
    const raw = Uint8Array.from(out.slice(0, 20));
    if (raw.length !== 20 || V.bech32m("urbis", raw) !== text.trim()) throw new Error(say("not an account id: ", "keine Kontonummer: ") + text);
    return raw;
  }

  async function submit(key, account, actions, memo) {
    const info = await (await fetch("/v1/accounts/" + account)).json();
    if (info.nonce === undefined) throw new Error(info.detail || "unknown account");
    const status = await (await fetch("/v1/status")).json();
    const body = {
      chain_id: chainId, sender: accountBytes(account), nonce: BigInt(info.nonce),
      actions, expires_at: BigInt(status.height + 100), memo: memo || "",
    };
    const bodyBytes = cbor(body);
    const signature = await sign(key, V.concat(encoder.encode("urbis/tx/v1\0"), bodyBytes));
    const raw = cbor({ body, signatures: [{ key: key.publicKey, sig: signature }] });
    const answer = await fetch("/v1/txs?wait=commit", {
      method: "POST", headers: { "Content-Type": "application/cbor" }, body: raw,
    });
    const result = await answer.json();
    if (!answer.ok) throw new Error(result.code + ": " + result.detail);
    if (result.status !== "committed") throw new Error(say("not committed yet: ", "noch nicht bestätigt: ") + result.tx_id);
    if (!result.receipt.ok) throw new Error(result.receipt.code + ": " + result.receipt.message);
    return result;
  }

  const statusLine = document.getElementById("space-status");
  function tell(text, ok) {
    statusLine.className = ok ? "ok" : "failed";
    statusLine.textContent = text;
  }
  function receiptLink(result, prefix) {
    statusLine.textContent = prefix + " ";
    const a = document.createElement("a");
    a.href = "/txs/" + result.tx_id;
    a.textContent = say("receipt ", "Beleg ") + result.tx_id.slice(0, 12) + "…";
    statusLine.appendChild(a);
    statusLine.className = "ok";
  }

  // -- sign-in ---------------------------------------------------------------------------
  const signin = document.getElementById("signin");
  if (signin) {
    const line = document.getElementById("signin-status");
    const accountInput = document.getElementById("signin-account");
    deviceKey().then(async (key) => {
      document.getElementById("device-public-key").textContent = V.toHex(key.publicKey);
      document.getElementById("device-account").textContent = key.account;
      if (!accountInput.value) accountInput.value = localStorage.getItem("urbis.account." + chainId) || key.account;
      const state = signin.dataset.state;
      if (!state) return;
      for (;;) {
        const answer = await fetch("/signin", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ kind: signin.dataset.kind, state, account: accountInput.value.trim(),
            public_key: V.toHex(key.publicKey),
            signature: V.toHex(await sign(key, V.concat(encoder.encode("urbis/portal-signin/v1\0"), encoder.encode(state), accountBytes(accountInput.value)))) }),
        });
        const result = await answer.json();
        if (answer.ok) { localStorage.setItem("urbis.account." + chainId, accountInput.value.trim()); location.reload(); return; }
        if (result.code !== "web.signin_pending") { line.className = "failed"; line.textContent = result.code + ": " + result.detail; if (result.code !== "web.key_not_on_account") return; }
        await new Promise((done) => setTimeout(done, 1000));
      }
    }).catch((error) => { line.className = "failed"; line.textContent = error.message; });
    return;
  }
  const session = document.getElementById("session");
  if (!session) return;
  const account = session.dataset.account;

  // -- resident: pay an invoice --------------------------------------------------------------
  document.querySelectorAll("button.pay").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const key = await deviceKey();
        const id = button.dataset.invoice;
        // what is signed comes from the proven invoice, not from the page
        const invoice = await V.provenValue("7061796d656e74732f696e766f6963652f" + id, 0, chainId);
        if (!invoice || V.toHex(invoice.payer) !== V.toHex(accountBytes(account))) throw new Error(say("the invoice is not yours", "die Rechnung ist nicht Ihre"));
        const due = invoice.amount_minor - invoice.paid_minor;
        if (String(due) !== button.dataset.due) throw new Error(say("the page shows another amount than the chain", "die Seite zeigt einen anderen Betrag als die Kette"));
        tell(say("Signing in this browser…", "Signiere im Browser…"), true);
        const result = await submit(key, account, [{ module: "payments", name: "pay_invoice", args: { invoice_id: V.fromHex(id), amount_minor: due } }]);
        receiptLink(result, say("Paid:", "Bezahlt:"));
        const row = button.closest("tr");
        button.replaceWith(Object.assign(document.createElement("a"), { href: "/invoices/" + id, textContent: say("paid: verify", "bezahlt: prüfen") }));
        row.dataset.paid = "true";
      } catch (error) {
        tell(error.message, false);
        button.disabled = false;
      }
    });
  });

  function minorUnits(text, decimals) {
    const [whole, fraction = ""] = text.trim().split(".");
    if (!/^[0-9]+$/.test(whole) || !/^[0-9]*$/.test(fraction)) throw new Error(say("not an amount: ", "kein Betrag: ") + text);
    if (fraction.length > decimals) throw new Error(say("too many decimals", "zu viele Nachkommastellen"));
    return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  }

  // -- resident: mandates ------------------------------------------------------------------
  const mandateForm = document.getElementById("mandate-form");
  if (mandateForm) {
    mandateForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const asset = document.getElementById("mandate-asset");
        const decimals = Number(asset.selectedOptions[0].dataset.decimals);
        const department = document.getElementById("mandate-department").value;
        const result = await submit(await deviceKey(), account, [{ module: "payments", name: "set_mandate", args: {
          department, asset: asset.value,
          per_invoice_max_minor: minorUnits(document.getElementById("mandate-invoice").value, decimals),
          per_month_max_minor: minorUnits(document.getElementById("mandate-month").value, decimals) } }]);
        receiptLink(result, say("Mandate set:", "Mandat erteilt:"));
        statusLine.dataset.mandate = department;
      } catch (error) { tell(error.message, false); }
    });
  }
  document.querySelectorAll("button.revoke").forEach((button) => {
    button.addEventListener("click", async () => {
      try {
        const result = await submit(await deviceKey(), account, [{ module: "payments", name: "revoke_mandate", args: { department: button.dataset.department } }]);
        receiptLink(result, say("Mandate revoked:", "Mandat widerrufen:"));
        statusLine.dataset.revoked = button.dataset.department;
        button.closest("tr").remove();
      } catch (error) { tell(error.message, false); }
    });
  });

  // -- department: issue an invoice, anchor a document ---------------------------------------
  const issue = document.getElementById("issue-form");
  if (issue) {
    issue.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const key = await deviceKey();
        const asset = document.getElementById("invoice-asset");
        const decimals = Number(asset.selectedOptions[0].dataset.decimals);
        const minor = minorUnits(document.getElementById("invoice-amount").value, decimals);
        const id = crypto.getRandomValues(new Uint8Array(32));
        const details = await V.sha256(encoder.encode(document.getElementById("invoice-details").value));
        const due = Date.parse(document.getElementById("invoice-due").value + "T23:59:59Z");
        const result = await submit(key, account, [{ module: "payments", name: "issue_invoice", args: {
          id, department: issue.dataset.department, payer: accountBytes(document.getElementById("invoice-payer").value),
          kind: document.getElementById("invoice-kind").value, asset: asset.value, amount_minor: minor,
          due_at_ms: BigInt(due), details_hash: details, late_fee_kind: "none", late_fee_minor: 0n } }]);
        receiptLink(result, say("Invoice issued:", "Rechnung gestellt:"));
        statusLine.dataset.invoice = V.toHex(id);
      } catch (error) { tell(error.message, false); }
    });
  }
  const roleForm = document.getElementById("role-form");
  if (roleForm) {
    roleForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const role = document.getElementById("role-name").value.trim();
        const result = await submit(await deviceKey(), account, [{ module: "governance", name: "grant_role", args: {
          department: roleForm.dataset.department, role, account: accountBytes(document.getElementById("role-account").value) } }]);
        receiptLink(result, say("Role granted:", "Rolle erteilt:"));
        statusLine.dataset.granted = role;
      } catch (error) { tell(error.message, false); }
    });
  }
  document.querySelectorAll("button.revoke-role").forEach((button) => {
    button.addEventListener("click", async () => {
      try {
        const result = await submit(await deviceKey(), account, [{ module: "governance", name: "revoke_role", args: {
          department: roleForm.dataset.department, role: button.dataset.role, account: accountBytes(button.dataset.account) } }]);
        receiptLink(result, say("Role revoked:", "Rolle entzogen:"));
        statusLine.dataset.revoked = button.dataset.role;
        button.closest("tr").remove();
      } catch (error) { tell(error.message, false); }
    });
  });
  const anchor = document.getElementById("anchor-form");
  if (anchor) {
    let file = null;
    const zone = document.getElementById("anchor-zone");
    const input = document.getElementById("anchor-file");
    input.addEventListener("change", () => { file = input.files[0] || null; });
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => { event.preventDefault(); zone.classList.remove("over"); file = event.dataTransfer.files[0] || null; });
    anchor.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        if (!file) throw new Error(say("choose or drop a file first", "zuerst eine Datei wählen"));
        const key = await deviceKey();
        const digest = await V.sha256(new Uint8Array(await file.arrayBuffer()));
        const result = await submit(key, account, [{ module: "documents", name: "anchor", args: {
          department: anchor.dataset.department, hash: digest,
          doc_type: document.getElementById("anchor-type").value, reference: document.getElementById("anchor-reference").value } }]);
        receiptLink(result, say("Anchored", "Verankert") + " " + V.toHex(digest).slice(0, 12) + "…:");
        statusLine.dataset.document = V.toHex(digest);
      } catch (error) { tell(error.message, false); }
    });
  }
  // -- contract calls: the arguments ABI-encoded by verify.js (abiCall), the 4-byte selector
  // from the page (keccak-256 is not in WebCrypto) ------------------------------------------
  const abiCall = V.abiCall;
  const callContract = async (address, data) => submit(await deviceKey(), account, [{ module: "contracts", name: "call", args: { contract: accountBytes(address), data, gas_limit: 3000000n } }]);

  // -- resident: apply for a licence --------------------------------------------------------
  const licenceForm = document.getElementById("licence-form");
  if (licenceForm) {
    licenceForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const office = document.getElementById("licence-office").selectedOptions[0];
        const licence = crypto.getRandomValues(new Uint8Array(32));
        const kind = document.getElementById("licence-kind").value.trim();
        tell(say("Signing in this browser…", "Signiere im Browser…"), true);
        const result = await callContract(office.value, abiCall(office.dataset.selectorApply, [["bytes32", licence], ["string", kind]]));
        receiptLink(result, say("Applied:", "Beantragt:"));
        statusLine.dataset.licence = V.toHex(licence);
      } catch (error) { tell(error.message, false); }
    });
  }

  // -- department: decide a licence application ------------------------------------------------
  document.querySelectorAll("button.decide").forEach((button) => {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      try {
        const approve = button.dataset.approve === "true";
        const reason = approve ? "" : row.querySelector("input.reason").value.trim();
        if (!approve && !reason) throw new Error(say("a refusal needs a reason", "eine Ablehnung braucht eine Begründung"));
        row.querySelectorAll("button.decide").forEach((b) => { b.disabled = true; });
        const result = await callContract(button.dataset.contract, abiCall(button.dataset.selectorDecide, [["bytes32", V.fromHex(button.dataset.licence)], ["bool", approve], ["string", reason]]));
        receiptLink(result, approve ? say("Approved:", "Bewilligt:") : say("Refused:", "Abgelehnt:"));
        statusLine.dataset.decided = button.dataset.licence;
        row.remove();
      } catch (error) {
        tell(error.message, false);
        row.querySelectorAll("button.decide").forEach((b) => { b.disabled = false; });
      }
    });
  });

  // -- department: council proposals -------------------------------------------------------------
  document.querySelectorAll("button.approve-proposal").forEach((button) => {
    button.addEventListener("click", async () => {
      try {
        button.disabled = true;
        const result = await submit(await deviceKey(), account, [{ module: "governance", name: "approve_proposal", args: { id: BigInt(button.dataset.proposal) } }]);
        receiptLink(result, say("Approval signed:", "Zustimmung signiert:"));
        statusLine.dataset.approved = button.dataset.proposal;
        button.replaceWith(document.createTextNode("✓"));
      } catch (error) { tell(error.message, false); button.disabled = false; }
    });
  });
  // JSON arguments as the chain's values: whole numbers, text, true/false, lists, objects;
  // "urbis1…" is an account (20 bytes) and "0x…" bytes.
  function chainValue(value) {
    if (typeof value === "number") { if (!Number.isSafeInteger(value)) throw new Error(say("only whole numbers", "nur ganze Zahlen")); return BigInt(value); }
    if (typeof value === "string") {
      if (/^urbis1[02-9ac-hj-np-z]{38}$/.test(value)) return accountBytes(value);
      if (/^0x([0-9a-fA-F]{2})*$/.test(value)) return V.fromHex(value.slice(2).toLowerCase());
      return value;
    }
    if (Array.isArray(value)) return value.map(chainValue);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, chainValue(v)]));
    return value;
  }
  const proposalForm = document.getElementById("proposal-form");
  if (proposalForm) {
    proposalForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const [module, name] = document.getElementById("proposal-action").value.trim().split(".");
        let args;
        try { args = JSON.parse(document.getElementById("proposal-args").value || "{}"); } catch (error) { throw new Error(say("the arguments are not JSON: ", "die Argumente sind kein JSON: ") + error.message); }
        if (!args || typeof args !== "object" || Array.isArray(args)) throw new Error(say("the arguments are a JSON object", "die Argumente sind ein JSON-Objekt"));
        const result = await submit(await deviceKey(), account, [{ module: "governance", name: "submit_proposal", args: {
          title: document.getElementById("proposal-title").value.trim(), action: { module, name, args: chainValue(args) } } }]);
        receiptLink(result, say("Proposal submitted:", "Antrag eingereicht:"));
        const submitted = result.receipt.events.find((e) => e.type === "governance.proposal_submitted");
        if (submitted) statusLine.dataset.proposal = String(submitted.attrs.id);
      } catch (error) { tell(error.message, false); }
    });
  }
})();
