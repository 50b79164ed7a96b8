// Verify a document by dropping it: its SHA-256 is computed here, with WebCrypto, and only
// the hash is looked up (/documents/<sha256>); the file itself never leaves the browser.
"use strict";
(function () {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("document-file");
  const result = document.getElementById("document-result");
  if (!zone || !input) return;
  const german = document.documentElement.lang === "de";

  async function lookUp(file) {
    result.textContent = german ? "Berechne SHA-256…" : "Computing SHA-256…";
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    result.textContent = "SHA-256 " + file.name + ": " + hex;
    document.getElementById("document-hash").value = hex;
    location.assign("/documents/" + hex);
  }
  input.addEventListener("change", () => { if (input.files.length) lookUp(input.files[0]); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) lookUp(event.dataTransfer.files[0]);
  });
})();
