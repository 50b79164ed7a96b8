// Verify in the browser what the page shows, trusting neither the page nor the server:
//   1. the validator keys are pinned in this browser from the city's genesis (first use),
//   2. a block header must be signed (Ed25519, WebCrypto) by one of those keys,
//   3. a state proof must lead (SHA-256 sparse Merkle path) to that header's app hash,
//   4. the value the proof proves, decoded from CBOR and formatted here, must be the very
//      text the page shows.
// The formats mirror urbis/crypto (tagged SHA-256, deterministic CBOR), urbis/state/proof.py
// (the sparse Merkle tree) and urbis/chain/block.py (the header and its signing domain).
"use strict";
(function () {
  const encoder = new TextEncoder();
  const german = document.documentElement.lang === "de";
  const say = (en, de) => (german ? de : en);

  // -- bytes and hashes ------------------------------------------------------------------
  function fromHex(hex) {
    if (typeof hex !== "string" || hex.length % 2 || /[^0-9a-f]/i.test(hex)) throw new Error("not hex: " + hex);
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }
  const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const tagged = (tag, data) => sha256(concat(encoder.encode("urbis/" + tag + "\0"), data));
  const EMPTY = new Uint8Array(32);

  // -- deterministic CBOR: the header's encoding, and a decoder for state values ------------
  function head(major, n) {
    n = BigInt(n);
    const m = major << 5;
    if (n < 24n) return Uint8Array.of(m | Number(n));
    for (const [extra, size] of [[24, 1], [25, 2], [26, 4], [27, 8]]) {
      if (n < 1n << BigInt(8 * size)) {
        const out = new Uint8Array(1 + size);
        out[0] = m | extra;
        for (let i = size; i >= 1; i--) { out[i] = Number(n & 0xffn); n >>= 8n; }
        return out;
      }
    }
    throw new Error("integer too large");
  }
  const cborText = (s) => { const b = encoder.encode(s); return concat(head(3, b.length), b); };
  const cborBytes = (b) => concat(head(2, b.length), b);
  function compareBytes(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }
  function encodeHeader(h) {
    const fields = [
      ["chain_id", cborText(h.chain_id)],
      ["height", head(0, h.height)],
      ["time_ms", head(0, h.time_ms)],
      ["prev_hash", cborBytes(fromHex(h.prev_hash))],
      ["txs_root", cborBytes(fromHex(h.txs_root))],
      ["results_root", cborBytes(fromHex(h.results_root))],
      ["app_hash", cborBytes(fromHex(h.app_hash))],
      ["proposer", cborBytes(fromHex(h.proposer))],
    ].map(([k, v]) => [cborText(k), v]);
    // RFC 8949 §4.2.1: map keys in the bytewise order of their encodings
    fields.sort((a, b) => compareBytes(a[0], b[0]));
    return concat(head(5, fields.length), ...fields.flat());
  }
  function decodeCbor(bytes) {
    let at = 0;
    const decoder = new TextDecoder("utf-8", { fatal: true });
    function argument(info) {
      if (info < 24) return BigInt(info);
      const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!size || at + size > bytes.length) throw new Error("bad CBOR length");
      let n = 0n;
      for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(bytes[at++]);
      return n;
    }
    function item(depth) {
      if (depth > 32 || at >= bytes.length) throw new Error("bad CBOR");
      const first = bytes[at++];
      const major = first >> 5, info = first & 31;
      if (major === 7) {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        throw new Error("unsupported CBOR simple value");
      }
      const n = argument(info);
      switch (major) {
        case 0: return n;
        case 1: return -1n - n;
        case 2: { const out = bytes.slice(at, at + Number(n)); at += Number(n); return out; }
        case 3: { const out = decoder.decode(bytes.slice(at, at + Number(n))); at += Number(n); return out; }
        case 4: { const out = []; for (let i = 0n; i < n; i++) out.push(item(depth + 1)); return out; }
        case 5: {
          const out = {};
          for (let i = 0n; i < n; i++) { const k = item(depth + 1); out[String(k)] = item(depth + 1); }
          return out;
        }
        default: throw new Error("unsupported CBOR tag");
      }
    }
    const value = item(0);
    if (at !== bytes.length) throw new Error("trailing bytes after the CBOR value");
    return value;
  }

  // -- bech32m account ids (urbis1…) ---------------------------------------------------------
  const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  function polymod(values) {
    const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let chk = 1;
    for (const v of values) {
      const top = chk >>> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ v;
      for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= G[i];
    }
    return chk >>> 0;
  }
  function bech32m(hrp, bytes) {
    const data = [];
    let acc = 0, bits = 0;
    for (const b of bytes) {
      acc = (acc << 8) | b; bits += 8;
      while (bits >= 5) { bits -= 5; data.push((acc >>> bits) & 31); }
    }
    if (bits) data.push((acc << (5 - bits)) & 31);
    const expanded = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));
    const mod = polymod(expanded.concat(data, [0, 0, 0, 0, 0, 0])) ^ 0x2bc830a3;
    const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
    return hrp + "1" + data.concat(checksum).map((d) => CHARSET[d]).join("");
  }

  // -- showing values the way the server does (urbis/cli/money.py) -------------------------
  function money(minor, decimals, asset) {
    minor = BigInt(minor);
    const sign = minor < 0n ? "-" : "";
    const abs = minor < 0n ? -minor : minor;
    const scale = 10n ** BigInt(decimals);
    const fraction = decimals ? "." + String(abs % scale).padStart(decimals, "0") : "";
    return sign + String(abs / scale) + fraction + " " + asset;
  }
  function shown(value, element) {
    const format = element.dataset.format;
    if (format === "money") return money(value, Number(element.dataset.decimals), element.dataset.asset);
    if (format === "int") return String(BigInt(value));
    if (format === "hex") return toHex(value);
    if (format === "account") return bech32m("urbis", value);
    if (format === "text") return String(value);
    if (format === "word-account") return bech32m("urbis", value.slice(12));
    if (format === "word-int") return String(BigInt("0x" + (toHex(value) || "0")));
    throw new Error("unknown format " + format);
  }
  function at(value, path) {
    for (const part of path ? path.split(".") : []) {
      if (value === null || typeof value !== "object" || !(part in value)) throw new Error("the proven value has no " + path);
      value = value[part];
    }
    return value;
  }

  // -- trust: validator keys pinned from genesis ---------------------------------------------
  async function pinnedValidators(chainId) {
    const slot = "urbis.validators." + chainId;
    const stored = localStorage.getItem(slot);
    if (stored) return { keys: JSON.parse(stored), pinnedNow: false };
    const answer = await fetch("/v1/genesis");
    const genesis = await answer.json();
    if (genesis.chain_id !== chainId) throw new Error("the genesis is for chain " + genesis.chain_id);
    const keys = genesis.validators.map((v) => v.key);
    localStorage.setItem(slot, JSON.stringify(keys));
    return { keys, pinnedNow: true };
  }
  async function ed25519(publicKey, message, signature) {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }
  async function verifyHeader(view, validators, chainId) {
    if (!view) throw new Error(say("no signed header", "kein signierter Kopf"));
    if (view.chain_id !== chainId) throw new Error("header of chain " + view.chain_id);
    const encoded = encodeHeader(view);
    if (toHex(await tagged("block", encoded)) !== view.hash) throw new Error(say("the header does not hash to its hash", "der Kopf passt nicht zu seinem Hash"));
    if (!validators.includes(view.proposer)) throw new Error(say("the proposer is not a pinned validator", "der Vorschlagende ist kein gespeicherter Validator"));
    const message = concat(encoder.encode("urbis/header/v1\0"), encoded);
    if (!(await ed25519(fromHex(view.proposer), message, fromHex(view.signature)))) {
      throw new Error(say("the header's signature does not verify", "die Signatur des Kopfes ist ungültig"));
    }
  }

  // -- state proofs: urbis/state/proof.py ----------------------------------------------------
  const bit = (digest, depth) => (digest[depth >> 3] >> (7 - (depth & 7))) & 1;
  async function verifyProof(proof, key, root) {
    if (proof.key !== key) throw new Error(say("the proof is for another key", "der Beweis gilt einem anderen Schlüssel"));
    if (proof.siblings.length > 256) throw new Error("proof deeper than the key space");
    const digest = await tagged("state/key", fromHex(proof.key));
    const value = proof.value === null ? null : fromHex(proof.value);
    const leaf = proof.leaf === null ? null : proof.leaf.map(fromHex);
    if (value !== null) {
      if (!leaf || !equal(leaf[0], digest) || !equal(leaf[1], await tagged("state/value", value))) {
        throw new Error(say("the leaf does not hold this key and value", "das Blatt enthält nicht diesen Wert"));
      }
    } else if (leaf) {
      if (equal(leaf[0], digest)) throw new Error("claims absence but the leaf is this key");
      for (let d = 0; d < proof.siblings.length; d++) if (bit(leaf[0], d) !== bit(digest, d)) throw new Error("leaf not on the key's path");
    }
    let current = leaf ? await sha256(concat(Uint8Array.of(0), leaf[0], leaf[1])) : EMPTY;
    for (let level = proof.siblings.length - 1; level >= 0; level--) {
      const sibling = fromHex(proof.siblings[level]);
      if (sibling.length !== 32) throw new Error("sibling is not 32 bytes");
      current = await sha256(bit(digest, level) ? concat(Uint8Array.of(1), sibling, current) : concat(Uint8Array.of(1), current, sibling));
    }
    if (!equal(current, fromHex(root))) throw new Error(say("the proof does not lead to the header's state root", "der Beweis führt nicht zur Zustandswurzel des Kopfes"));
    return value;
  }

  // -- a block's transactions against its header (urbis/crypto/merkle.py) ---------------------
  async function merkleRoot(items) {
    if (!items.length) return EMPTY;
    let level = await Promise.all(items.map((item) => tagged("merkle/leaf", item)));
    while (level.length > 1) {
      const next = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(await tagged("merkle/node", concat(level[i], level[i + 1])));
      if (level.length % 2) next.push(level[level.length - 1]);
      level = next;
    }
    return level[0];
  }

  // The value under `key` at `height`, proven against a header signed by a pinned validator
  // (null when the proof shows the key absent). space.js checks an invoice this way before
  // it lets the resident sign a payment for it.
  async function provenValue(key, height, chainId) {
    const pinned = await pinnedValidators(chainId);
    const query = "?encoding=hex&prove=true" + (height ? "&height=" + height : "");
    const answer = await (await fetch("/v1/state/" + key + query)).json();
    if (answer.cometbft) throw new Error("CometBFT commits are not checked in the browser yet");
    if (!answer.proof) throw new Error(answer.detail || "no proof");
    await verifyHeader(answer.header, pinned.keys, chainId);
    if (answer.proof.height !== answer.header.height) throw new Error("proof for another height");
    const raw = await verifyProof(answer.proof, key, answer.header.app_hash);
    return raw === null ? null : decodeCbor(raw);
  }

  // -- contract calls: ABI encoding of the argument types the process contracts take -----------
  // bytes32, bool and string (Solidity ABI: a head of 32 bytes each, a string's head the offset
  // of its tail, the tail its length then its UTF-8 bytes zero-padded to 32). The 4-byte
  // selector comes from the page: keccak-256 is not in WebCrypto. Checked against Python's
  // encoder (urbis/modules/contracts/abi.py) by tests/test_web_processes.py.
  function abiWord(n) {
    const w = new Uint8Array(32);
    let v = BigInt(n);
    for (let i = 31; i >= 0 && v > 0n; i--) { w[i] = Number(v & 255n); v >>= 8n; }
    return w;
  }
  function abiCall(selectorHex, args) {
    const heads = [], tails = [];
    let tailAt = 32 * args.length;
    for (const [kind, value] of args) {
      if (kind === "bytes32") { if (value.length !== 32) throw new Error("bytes32 takes 32 bytes"); heads.push(value); }
      else if (kind === "bool") heads.push(abiWord(value ? 1 : 0));
      else if (kind === "string") {
        const b = encoder.encode(value);
        const padded = new Uint8Array(Math.ceil(b.length / 32) * 32); padded.set(b);
        heads.push(abiWord(tailAt)); tails.push(abiWord(b.length), padded); tailAt += 32 + padded.length;
      } else throw new Error("unsupported ABI type " + kind);
    }
    const selector = fromHex(selectorHex);
    if (selector.length !== 4) throw new Error("a selector is 4 bytes");
    return concat(selector, ...heads, ...tails);
  }
  window.urbisVerify = { encodeHeader, decodeCbor, bech32m, money, verifyProof, merkleRoot, toHex, fromHex, concat, sha256, tagged, head, compareBytes, provenValue, shown, at, abiCall };

  // -- the page ------------------------------------------------------------------------------
  const status = document.getElementById("verify-status");
  const details = document.getElementById("verify-details");
  const button = document.getElementById("verify-button");
  if (!status || !button || !details) return;
  const main = document.querySelector("main");
  const chainId = main.dataset.chain;
  const height = Number(main.dataset.height);

  function note(text, ok) {
    const li = document.createElement("li");
    li.textContent = text;
    li.className = ok ? "ok" : "failed";
    details.appendChild(li);
  }

  async function verifyPage() {
    details.textContent = "";
    document.querySelectorAll(".proven").forEach((e) => e.classList.remove("verified", "refuted"));
    if (!window.crypto || !crypto.subtle) throw new Error(say("this page is not in a secure context: WebCrypto is unavailable (serve it over HTTPS)", "keine sichere Verbindung: WebCrypto fehlt (HTTPS nötig)"));
    const pinned = await pinnedValidators(chainId);
    note(say("Validator keys pinned in this browser", "In diesem Browser gespeicherte Validatorschlüssel") + (pinned.pinnedNow ? say(" (pinned now from genesis)", " (jetzt aus der Genesis gespeichert)") : "") + ": " + pinned.keys.map((k) => k.slice(0, 12) + "…").join(", "), true);
    let checked = 0;

    const headerScript = document.getElementById("block-header");
    if (headerScript) {
      const view = JSON.parse(headerScript.textContent);
      await verifyHeader(view, pinned.keys, chainId);
      const ids = JSON.parse(document.getElementById("block-tx-ids").textContent).map(fromHex);
      if (toHex(await merkleRoot(ids)) !== view.txs_root) throw new Error(say("the transactions do not match the header's transactions root", "die Transaktionen passen nicht zur Transaktionswurzel"));
      const idsScript = document.getElementById("block-tx-ids");
      if (idsScript.dataset.tx) {
        // a transaction page: its id must be one of the block's, and the one shown
        if (!ids.some((id) => toHex(id) === idsScript.dataset.tx)) throw new Error(say("this transaction is not in the signed block", "diese Transaktion ist nicht im signierten Block"));
        const shownId = Array.from(document.querySelectorAll("dl.facts code")).some((c) => c.textContent === idsScript.dataset.tx);
        if (!shownId) throw new Error(say("the transaction id shown is not the one checked", "die angezeigte Transaktions-ID ist nicht die geprüfte"));
      } else {
        const shownHash = Array.from(document.querySelectorAll("dl.facts code")).some((c) => c.textContent === view.hash);
        if (!shownHash) throw new Error(say("the hash shown is not the header's", "der angezeigte Hash ist nicht der des Kopfes"));
      }
      note(say("Header signed by validator ", "Kopf signiert von Validator ") + view.proposer.slice(0, 12) + "…; " + ids.length + say(" transactions match its root", " Transaktionen passen zur Wurzel"), true);
      checked += 1;
    }

    const byKey = new Map();
    document.querySelectorAll(".proven[data-key]").forEach((e) => {
      if (!byKey.has(e.dataset.key)) byKey.set(e.dataset.key, []);
      byKey.get(e.dataset.key).push(e);
    });
    let failure = null;
    for (const [key, elements] of byKey) {
      const answer = await (await fetch("/v1/state/" + key + "?encoding=hex&prove=true&height=" + height)).json();
      try {
        if (answer.cometbft) throw new Error(say("this node runs CometBFT: checking its commit in the browser is not supported yet", "CometBFT-Commits werden im Browser noch nicht geprüft"));
        if (!answer.proof) throw new Error(answer.detail || "no proof");
        await verifyHeader(answer.header, pinned.keys, chainId);
        if (answer.header.height !== height || answer.proof.height !== height) throw new Error("proof for another height");
        const raw = await verifyProof(answer.proof, key, answer.header.app_hash);
        if (raw === null) throw new Error(say("the state holds no value under this key", "kein Wert unter diesem Schlüssel"));
        // a contract's storage slot is a raw 32-byte word, not CBOR
        const value = elements[0].dataset.encoding === "word" ? raw : decodeCbor(raw);
        for (const element of elements) {
          const expected = shown(at(value, element.dataset.path), element);
          if (element.textContent.trim() !== expected) {
            element.classList.add("refuted");
            throw new Error(say("the page shows ", "die Seite zeigt ") + JSON.stringify(element.textContent.trim()) + say(" but the proven value is ", ", bewiesen ist ") + JSON.stringify(expected));
          }
          element.classList.add("verified");
          checked += 1;
        }
      } catch (error) {
        elements.forEach((e) => { if (!e.classList.contains("verified")) e.classList.add("refuted"); });
        note(error.message, false);
        failure = failure || error;
      }
    }
    if (failure) throw failure;
    return checked;
  }

  button.addEventListener("click", () => {
    button.disabled = true;
    status.className = "";
    status.textContent = say("Verifying…", "Prüfe…");
    verifyPage().then(
      (checked) => {
        status.className = "ok";
        status.textContent = say("Verified: ", "Geprüft: ") + checked + say(" values proven at block ", " Werte bewiesen bei Block ") + height + say(", signed by a validator pinned from genesis.", ", signiert von einem aus der Genesis gespeicherten Validator.");
        main.dataset.verified = "true";
      },
      (error) => {
        status.className = "failed";
        status.textContent = say("Verification failed: ", "Prüfung fehlgeschlagen: ") + error.message;
        main.dataset.verified = "false";
      },
    ).finally(() => { button.disabled = false; });
  });
})();
