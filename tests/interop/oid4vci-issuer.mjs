// An OpenID4VCI 1.0 credential issuer built on the OpenWallet Foundation's
// @openid4vc/openid4vci and @openid4vc/oauth2 (pre-authorised code flow with a transaction
// code, nonce endpoint, JWT key proofs, batch credentials), issuing with @sd-jwt/sd-jwt-vc.
// The Urbis wallet receives from it in tests/test_oid4vci.py.
// Usage: node oid4vci-issuer.mjs '<input JSON: {"key": OKP private JWK, "path", "vct", "claims", "disclosable"}>'
// Prints one line {"offer": "openid-credential-offer://…", "tx_code": "…"} and serves until killed.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { Openid4vciIssuer } from '@openid4vc/openid4vci';
import { Oauth2AuthorizationServer, setGlobalConfig } from '@openid4vc/oauth2';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt } from '@sd-jwt/crypto-nodejs';

setGlobalConfig({ allowInsecureUrls: true });
const input = JSON.parse(process.argv[2]);
const b64 = (json) => Buffer.from(JSON.stringify(json)).toString('base64url');
const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const tokenJwk = tokenKey.publicKey.export({ format: 'jwk' });
const credentialKey = createPrivateKey({ key: input.key, format: 'jwk' });

const callbacks = {
  hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (length) => randomBytes(length),
  signJwt: async (signer, { header, payload }) => {
    const unsigned = `${b64(header)}.${b64(payload)}`;
    const signature = sign('sha256', Buffer.from(unsigned), { key: tokenKey.privateKey, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${unsigned}.${signature.toString('base64url')}`, signerJwk: tokenJwk };
  },
  verifyJwt: async (signer, { compact }) => {
    const jwk = signer.publicJwk;
    const [h, p, s] = compact.split('.');
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    return ok ? { verified: true, signerJwk: jwk } : { verified: false };
  },
};

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const issuerId = `${origin}${input.path}`;
const configurationId = 'ResidentID_dc+sd-jwt';
const issuer = new Openid4vciIssuer({ callbacks });
const authorizationServer = new Oauth2AuthorizationServer({ callbacks });
const credentialIssuer = issuer.createCredentialIssuerMetadata({
  credential_issuer: issuerId,
  credential_endpoint: `${issuerId}/credential`,
  nonce_endpoint: `${issuerId}/nonce`,
  batch_credential_issuance: { batch_size: 5 },
  credential_configurations_supported: {
    [configurationId]: {
      format: 'dc+sd-jwt',
      vct: input.vct,
      cryptographic_binding_methods_supported: ['jwk'],
      credential_signing_alg_values_supported: ['EdDSA'],
      proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
    },
  },
});
const authorizationServerMetadata = authorizationServer.createAuthorizationServerMetadata({
  issuer: issuerId,
  token_endpoint: `${issuerId}/token`,
  'pre-authorized_grant_anonymous_access_supported': true,
});
const issuerMetadata = {
  credentialIssuer,
  authorizationServers: [authorizationServerMetadata],
  knownCredentialConfigurations: issuer.getKnownCredentialConfigurationsSupported(credentialIssuer),
};
const preAuthorizedCode = randomBytes(16).toString('base64url');
const txCode = String(100000 + (randomBytes(4).readUInt32BE() % 900000));
const { credentialOffer } = await issuer.createCredentialOffer({
  issuerMetadata,
  credentialConfigurationIds: [configurationId],
  grants: {
    'urn:ietf:params:oauth:grant-type:pre-authorized_code': {
      'pre-authorized_code': preAuthorizedCode,
      tx_code: { input_mode: 'numeric', length: 6 },
    },
  },
});
let accessToken = null;
const nonces = new Set();

const sdjwt = new SDJwtVcInstance({
  signer: (data) => sign(null, Buffer.from(data), credentialKey).toString('base64url'),
  signAlg: 'EdDSA',
  hasher: digest,
  hashAlg: 'sha-256',
  saltGenerator: generateSalt,
});

async function read(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response, status, body) {
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(body));
}

server.on('request', async (request, response) => {
  const url = new URL(request.url, origin);
  const requestLike = { method: request.method, url: url.toString(), headers: new Headers(request.headers) };
  try {
    if (url.pathname === `/.well-known/openid-credential-issuer${input.path}`) return send(response, 200, credentialIssuer);
    if (url.pathname === `/.well-known/oauth-authorization-server${input.path}`) return send(response, 200, authorizationServerMetadata);
    if (url.pathname === `${input.path}/token`) {
      const form = Object.fromEntries(new URLSearchParams(await read(request)));
      const parsed = authorizationServer.parseAccessTokenRequest({ request: requestLike, accessTokenRequest: form });
      await authorizationServer.verifyPreAuthorizedCodeAccessTokenRequest({
        authorizationServerMetadata, grant: parsed.grant, accessTokenRequest: parsed.accessTokenRequest,
        request: requestLike, expectedPreAuthorizedCode: preAuthorizedCode, expectedTxCode: txCode,
      });
      const answer = await authorizationServer.createAccessTokenResponse({
        authorizationServer: issuerId, audience: issuerId, subject: 'resident', expiresInSeconds: 300,
        signer: { method: 'jwk', alg: 'ES256', publicJwk: tokenJwk },
      });
      accessToken = answer.access_token;
      return send(response, 200, answer);
    }
    if (url.pathname === `${input.path}/nonce`) {
      const cNonce = randomBytes(16).toString('base64url');
      nonces.add(cNonce);
      return send(response, 200, issuer.createNonceResponse({ cNonce }));
    }
    if (url.pathname === `${input.path}/credential`) {
      if (request.headers.authorization !== `Bearer ${accessToken}`) return send(response, 401, { error: 'invalid_token' });
      const credentialRequest = issuer.parseCredentialRequest({ issuerMetadata, credentialRequest: JSON.parse(await read(request)) });
      const credentials = [];
      for (const jwt of credentialRequest.proofs.jwt) {
        const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
        if (!nonces.has(payload.nonce)) return send(response, 400, { error: 'invalid_nonce' });
        const { signer } = await issuer.verifyCredentialRequestJwtProof({ issuerMetadata, jwt, expectedNonce: payload.nonce });
        const now = Math.floor(Date.now() / 1000);
        credentials.push({
          credential: await sdjwt.issue(
            { iss: issuerId, vct: input.vct, iat: now, exp: now + 86400, cnf: { jwk: signer.publicJwk }, ...input.claims },
            { _sd: input.disclosable },
            { header: { kid: input.kid, typ: 'dc+sd-jwt' } },
          ),
        });
      }
      return send(response, 200, issuer.createCredentialResponse({ credentialRequest, credentials }));
    }
    send(response, 404, { error: 'not_found' });
  } catch (error) {
    console.error(error?.cause ?? error);
    send(response, 400, { error: 'invalid_request', error_description: String(error?.message ?? error) });
  }
});

const offer = credentialOffer; // the library's openid-credential-offer:// link
console.log(JSON.stringify({ offer, tx_code: txCode }));
