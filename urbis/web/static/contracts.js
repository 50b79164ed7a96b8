// A contract's read-only call from its page: GET /v1/contracts/<ref>/call/<function>?args=.
"use strict";
(function () {
  const form = document.getElementById("call-form");
  const output = document.getElementById("call-result");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fn = document.getElementById("call-function").value;
    const args = document.getElementById("call-args").value || "[]";
    const url = "/v1/contracts/" + encodeURIComponent(form.dataset.ref) + "/call/" + encodeURIComponent(fn) + "?args=" + encodeURIComponent(args);
    const answer = await fetch(url);
    const body = await answer.json();
    output.textContent = answer.ok ? JSON.stringify(body.result !== undefined ? body.result : body) : body.code + ": " + body.detail;
  });
})();
