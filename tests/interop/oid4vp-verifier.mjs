// An OpenID4VP 1.0 verifier built on the OpenWallet Foundation's @openid4vc/openid4vp
// (signed request object, DCQL, direct_post) and @sd-jwt/sd-jwt-vc (the presentation, its key
// binding and its status, checked with only what the issuer publishes). The Urbis wallet
// answers it in tests/test_oid4vp.py.
// Usage: node oid4vp-verifier.mjs '<input JSON: {"key": OKP private JWK, "did", "kid", "vct", "claims"}>'
// Prints {"link": "openid4vp://…"}, then, once a wallet answered, {"valid": …, "claims": …}.
import { createPrivateKey, createHash, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { Openid4vpVerifier } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/oauth2';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import { decodePart, verifyEs256, verifyWithIssuerMetadata } from './common.mjs';

setGlobalConfig({ allowInsecureUrls: true });
const input = JSON.parse(process.argv[2]);
const key = createPrivateKey({ key: input.key, format: 'jwk' });
const b64 = (json) => Buffer.from(JSON.stringify(json)).toString('base64url');
const { d, ...publicJwk } = input.key;

const verifier = new Openid4vpVerifier({
  callbacks: {
    hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
    signJwt: async (signer, { header, payload }) => {
      const unsigned = `${b64(header)}.${b64(payload)}`;
      return { jwt: `${unsigned}.${sign(null, Buffer.from(unsigned), key).toString('base64url')}`, signerJwk: publicJwk };
    },
    verifyJwt: async () => ({ verified: false }),
  },
});

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const clientId = `decentralized_identifier:${input.did}`;
const nonce = randomBytes(16).toString('base64url');
const { authorizationRequest, authorizationRequestPayload } = await verifier.createOpenId4vpAuthorizationRequest({
  scheme: 'openid4vp://',
  authorizationRequestPayload: {
    response_type: 'vp_token',
    client_id: clientId,
    response_mode: 'direct_post',
    response_uri: `${origin}/response`,
    nonce,
    state: randomBytes(8).toString('base64url'),
    dcql_query: {
      credentials: [{
        id: 'resident',
        format: 'dc+sd-jwt',
        meta: { vct_values: [input.vct] },
        claims: input.claims.map((claim) => ({ path: [claim] })),
      }],
    },
    client_metadata: { vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['EdDSA'], 'kb-jwt_alg_values': ['ES256'] } } },
  },
  jar: { jwtSigner: { method: 'did', didUrl: input.kid, alg: 'EdDSA' }, expiresInSeconds: 300 },
});
console.log(JSON.stringify({ link: authorizationRequest }));

const sdjwt = new SDJwtVcInstance({
  hasher: digest,
  verifier: verifyWithIssuerMetadata,
  kbVerifier: async (data, signature, payload) => verifyEs256(payload.cnf.jwk, data, signature),
});

server.on('request', async (request, response) => {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  let outcome;
  try {
    const parsed = await verifier.parseOpenid4vpAuthorizationResponse({ authorizationResponse: form, authorizationRequestPayload });
    const validated = verifier.validateOpenid4vpAuthorizationResponsePayload({
      authorizationRequestPayload,
      authorizationResponsePayload: parsed.authorizationResponsePayload,
    });
    const presentation = validated.type === 'dcql' ? validated.dcql.presentations.resident[0] : null;
    const result = await sdjwt.verify(presentation, { keyBindingNonce: nonce });
    const kb = decodePart(presentation.split('~').at(-1).split('.')[1]);
    if (kb.aud !== clientId) throw new Error(`key binding aud ${kb.aud} is not ${clientId}`);
    outcome = { valid: true, claims: await sdjwt.getClaims(presentation), vct: result.payload.vct };
  } catch (error) {
    outcome = { valid: false, error: String(error?.message ?? error) };
  }
  console.log(JSON.stringify(outcome));
  response.writeHead(outcome.valid ? 200 : 400, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(outcome.valid ? {} : { error: 'invalid_request', error_description: outcome.error }));
});
