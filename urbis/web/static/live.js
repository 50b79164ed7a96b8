// The explorer home, live: each committed block (a WebSocket notice from /v1/events)
// is read from the JSON API and added to the top of the blocks and transactions tables.
"use strict";
(function () {
  const blocksBody = document.querySelector("#latest-blocks tbody");
  const txsBody = document.querySelector("#latest-txs tbody");
  if (!blocksBody || !txsBody || !("WebSocket" in window)) return;
  const shortHex = (hex, size) => (hex.length <= 2 * size ? hex : hex.slice(0, size) + "…" + hex.slice(-4));

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    row.appendChild(td);
  }
  function link(href, text, code, title) {
    const a = document.createElement("a");
    a.href = href;
    if (title) a.title = title;
    if (code) { const c = document.createElement("code"); c.textContent = text; a.appendChild(c); }
    else a.textContent = text;
    return a;
  }
  function time(ms) {
    const t = document.createElement("time");
    t.setAttribute("datetime", new Date(ms).toISOString());
    t.textContent = new Date(ms).toISOString();
    if (window.urbisShowTime) window.urbisShowTime(t);
    return t;
  }
  function prepend(body, row) {
    body.insertBefore(row, body.firstChild);
    const keep = Number(body.parentElement.dataset.rows || 10);
    while (body.rows.length > keep) body.deleteRow(body.rows.length - 1);
  }
  function status(receipt) {
    const span = document.createElement("span");
    const ok = receipt.code === "ok";
    span.className = ok ? "ok" : "failed";
    const words = document.documentElement.lang === "de" ? ["ok", "fehlgeschlagen"] : ["ok", "failed"];
    span.textContent = ok ? words[0] : words[1] + ": " + receipt.code;
    return span;
  }

  const seen = new Set();
  async function addBlock(height) {
    if (seen.has(height)) return;
    seen.add(height);
    const answer = await fetch("/v1/blocks/" + height);
    if (!answer.ok) return;
    const block = await answer.json();
    const header = block.header;
    const row = document.createElement("tr");
    row.dataset.height = String(header.height);
    cell(row, link("/blocks/" + header.height, String(header.height)));
    cell(row, time(header.time_ms));
    cell(row, String(block.txs.length));
    const hash = document.createElement("code");
    hash.textContent = shortHex(header.hash, 10);
    cell(row, hash);
    prepend(blocksBody, row);
    document.querySelectorAll("[data-live=height]").forEach((e) => { e.textContent = String(header.height); });
    const receipts = block.txs.slice(-10);
    for (const receipt of receipts) {
      let actions = "—";
      const tx = await fetch("/v1/txs/" + receipt.tx_id);
      if (tx.ok) actions = (await tx.json()).tx.actions.map((a) => a.module + "." + a.name).join(", ");
      const txRow = document.createElement("tr");
      cell(txRow, link("/txs/" + receipt.tx_id, shortHex(receipt.tx_id, 10), true, receipt.tx_id));
      cell(txRow, link("/blocks/" + receipt.height, String(receipt.height)));
      cell(txRow, receipt.sender ? link("/accounts/" + receipt.sender, shortHex(receipt.sender, 12), true, receipt.sender) : "—");
      cell(txRow, actions);
      cell(txRow, status(receipt));
      prepend(txsBody, txRow);
    }
  }

  let after = Number(document.querySelector("main").dataset.height || 0);
  let resume = true;
  function connect(delayMs) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const from = resume ? "&from_height=" + (after + 1) : "";
    const socket = new WebSocket(scheme + location.host + "/v1/events?blocks=true" + from);
    socket.onmessage = (message) => {
      const notice = JSON.parse(message.data);
      if (notice.kind !== "block") return;
      after = Math.max(after, notice.height);
      addBlock(notice.height).catch(() => {});
    };
    socket.onclose = (closed) => {
      if (closed.code === 4010) return; // the node halted: no more blocks will come from it
      resume = closed.code !== 4009; // too far back to replay: go on live from now
      setTimeout(() => connect(Math.min(delayMs * 2, 10000)), delayMs);
    };
  }
  document.querySelectorAll("#latest-blocks tbody tr").forEach((row) => {
    const h = Number(row.querySelector("a").textContent);
    seen.add(h);
  });
  connect(500);
})();
