// An OpenID4VCI 1.0 wallet built on the OpenWallet Foundation's @openid4vc/openid4vci
// client: resolve the offer, the issuer's metadata, trade the pre-authorised code and the
// transaction code for an access token, fetch a c_nonce, prove one P-256 key per copy,
// retrieve the credentials.
// Usage: node oid4vci-wallet.mjs '<openid-credential-offer://…>' <tx_code> <copies> [<nonce override>]
// Prints {"credentials": […], "keys": [private JWKs]} or {"error": …}.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { clientAuthenticationAnonymous, setGlobalConfig } from '@openid4vc/oauth2';

setGlobalConfig({ allowInsecureUrls: true }); // the test city serves plain http on loopback

const [offerUri, txCode, copies, nonceOverride] = process.argv.slice(2);

function b64(json) {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}

const callbacks = {
  hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (length) => randomBytes(length),
  clientAuthentication: clientAuthenticationAnonymous(),
  signJwt: async (signer, { header, payload }) => {
    const key = keys.find((k) => k.public.x === signer.publicJwk.x);
    const input = `${b64(header)}.${b64(payload)}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: createPrivateKey({ key: key.private, format: 'jwk' }),
      dsaEncoding: 'ieee-p1363',
    });
    return { jwt: `${input}.${signature.toString('base64url')}`, signerJwk: signer.publicJwk };
  },
};

const keys = Array.from({ length: Number(copies) }, () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = pair.privateKey.export({ format: 'jwk' });
  const { d, ...publicJwk } = privateJwk;
  return { private: privateJwk, public: publicJwk };
});

try {
  const client = new Openid4vciClient({ callbacks });
  const offer = await client.resolveCredentialOffer(offerUri);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    txCode,
  });
  const { c_nonce } = await client.requestNonce({ issuerMetadata });
  const configurationId = offer.credential_configuration_ids[0];
  const proofs = [];
  for (const key of keys) {
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: { method: 'jwk', alg: 'ES256', publicJwk: key.public },
      nonce: nonceOverride ?? c_nonce,
      issuedAt: new Date(),
    });
    proofs.push(jwt);
  }
  const answer = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: { jwt: proofs },
  });
  if (!answer.ok) {
    const body = answer.credentialErrorResponseResult?.data ?? (await answer.response.json());
    console.log(JSON.stringify({ error: body }));
  } else {
    console.log(JSON.stringify({
      credentials: answer.credentialResponse.credentials.map((c) => c.credential),
      keys: keys.map((k) => k.private),
      configuration: issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId],
    }));
  }
} catch (error) {
  // the client throws with the issuer's error response (JSON) after its own message
  const text = String(error?.message ?? error);
  let body = text;
  try {
    body = JSON.parse(text.slice(text.indexOf('{')));
  } catch {
    // not a JSON error response: keep the message
  }
  console.log(JSON.stringify({ error: body }));
}
