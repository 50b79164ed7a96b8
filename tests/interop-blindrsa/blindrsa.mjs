// One RFC 9474 step with Cloudflare's implementation, for tests/test_blindrsa.py.
// stdin: {"op": "sign" | "blind" | "finalize", ...hex/base64 fields}; stdout: JSON.
import { RSABSSA } from '@cloudflare/blindrsa-ts';

const suite = RSABSSA.SHA384.PSS.Randomized();
const algorithm = { name: 'RSA-PSS', hash: 'SHA-384' };
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (text) => new Uint8Array(Buffer.from(text, 'hex'));
const der = (b64) => new Uint8Array(Buffer.from(b64, 'base64'));

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const publicKey = input.spki
  ? await crypto.subtle.importKey('spki', der(input.spki), algorithm, true, ['verify'])
  : null;
let output;
if (input.op === 'sign') {
  const key = await crypto.subtle.importKey('pkcs8', der(input.pkcs8), algorithm, true, ['sign']);
  output = { blind_sig: hex(await suite.blindSign(key, unhex(input.blinded_msg))) };
} else if (input.op === 'blind') {
  const prepared = suite.prepare(unhex(input.msg));
  const { blindedMsg, inv } = await suite.blind(publicKey, prepared);
  output = { prepared: hex(prepared), blinded_msg: hex(blindedMsg), inv: hex(inv) };
} else if (input.op === 'finalize') {
  const sig = await suite.finalize(publicKey, unhex(input.prepared), unhex(input.blind_sig), unhex(input.inv));
  output = { sig: hex(sig), valid: await suite.verify(publicKey, sig, unhex(input.prepared)) };
} else {
  throw new Error(`unknown op ${input.op}`);
}
process.stdout.write(JSON.stringify(output));
