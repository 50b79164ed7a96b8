// An OpenID4VP 1.0 wallet on the OpenWallet Foundation's libraries: @openid4vc/openid4vp
// parses and resolves the request (checking its signature by the verifier's DID keys,
// fetched from the city's node), @sd-jwt/sd-jwt-vc presents the asked claims with a key
// binding JWT, and the response goes back by direct_post.
// Usage: node oid4vp-wallet.mjs '<openid4vp://…>' <credential file> '<holder private JWK>' <node API> [<aud override>]
// Prints {"status": HTTP status, "body": …, "client": …} or {"error": …}.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/oauth2';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import { getJson } from './common.mjs';

setGlobalConfig({ allowInsecureUrls: true }); // the test city serves plain http on loopback

const [link, credentialFile, holderJwk, api, audOverride] = process.argv.slice(2);
const credential = readFileSync(credentialFile, 'utf8').trim();
const holder = JSON.parse(holderJwk);

const callbacks = {
  hash: (data, alg) => digest(data, alg),
  fetch,
  verifyJwt: async (signer, { compact }) => {
    if (signer.method !== 'did') return { verified: false };
    const did = signer.didUrl.split('#')[0];
    const document = await getJson(`${api}/v1/dids/${did}`);
    const method = document.verificationMethod.find((m) => m.id === signer.didUrl);
    if (!method) return { verified: false };
    const [header, payload, signature] = compact.split('.');
    const key = createPublicKey({ key: method.publicKeyJwk, format: 'jwk' });
    const ok = verify(null, Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
    return ok ? { verified: true, signerJwk: method.publicKeyJwk } : { verified: false };
  },
};

try {
  const client = new Openid4vpClient({ callbacks });
  const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: link });
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: parsed.params,
  });
  const request = resolved.authorizationRequestPayload;
  const query = resolved.dcql.query.credentials[0];
  const frame = Object.fromEntries(query.claims.map((c) => [c.path[0], true]));
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    kbSignAlg: 'ES256',
    kbSigner: (data) => sign('sha256', Buffer.from(data), {
      key: createPrivateKey({ key: holder, format: 'jwk' }),
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url'),
  });
  const presentation = await sdjwt.present(credential, frame, {
    kb: {
      payload: {
        iat: Math.floor(Date.now() / 1000),
        aud: audOverride ?? request.client_id,
        nonce: request.nonce,
      },
    },
  });
  const response = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: { vp_token: { [query.id]: [presentation] } },
  });
  const submitted = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: response.authorizationResponsePayload,
  });
  console.log(JSON.stringify({
    status: submitted.response.status,
    body: await submitted.response.json().catch(() => null),
    client: resolved.client,
    claims: Object.keys(frame),
  }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
}
