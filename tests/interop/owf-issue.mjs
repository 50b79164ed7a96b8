// The other direction: the OpenWallet Foundation's libraries make what Urbis must accept.
// @sd-jwt/sd-jwt-vc issues an SD-JWT VC (EdDSA, with the department key given as a JWK),
// and @sd-jwt/jwt-status-list builds a Status List Token with one entry set.
// Usage: node owf-issue.mjs '<input JSON>' where the input holds
//   {"key": private OKP JWK, "kid", "iss", "vct", "status_uri", "idx", "status", "size",
//    "holder": public JWK, "claims": {...}, "disclosable": [...]}
// Prints {"credential": "...~", "status_token": "..."}.
import { createPrivateKey, sign } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { createHeaderAndPayload, StatusList } from '@sd-jwt/jwt-status-list';
import { digest, generateSalt } from '@sd-jwt/crypto-nodejs';

const input = JSON.parse(process.argv[2]);
const key = createPrivateKey({ key: input.key, format: 'jwk' });
const signer = (data) => sign(null, Buffer.from(data), key).toString('base64url');

const issuer = new SDJwtVcInstance({
  signer,
  signAlg: 'EdDSA',
  hasher: digest,
  hashAlg: 'sha-256',
  saltGenerator: generateSalt,
});
const now = Math.floor(Date.now() / 1000);
const credential = await issuer.issue(
  {
    iss: input.iss,
    vct: input.vct,
    iat: now,
    exp: now + 86400,
    cnf: { jwk: input.holder },
    status: { status_list: { idx: input.idx, uri: input.status_uri } },
    ...input.claims,
  },
  { _sd: input.disclosable },
  { header: { kid: input.kid, typ: 'dc+sd-jwt' } },
);

const list = new StatusList(new Array(input.size).fill(0), 2);
list.setStatus(input.idx, input.status);
const { header, payload } = createHeaderAndPayload(
  list,
  { iss: input.iss, sub: input.status_uri, iat: now, exp: now + 300, ttl: 60 },
  { alg: 'EdDSA', kid: input.kid },
);
const encode = (json) => Buffer.from(JSON.stringify(json)).toString('base64url');
const unsigned = `${encode(header)}.${encode(payload)}`;
console.log(JSON.stringify({ credential, status_token: `${unsigned}.${signer(unsigned)}` }));
