// A standard SD-JWT VC verifier (the OpenWallet Foundation's @sd-jwt/sd-jwt-vc), given only
// what the issuer publishes: its JWT VC Issuer Metadata, its Status List Token, its type
// metadata. Usage: node verify-sdjwt-vc.mjs <file with the presentation> <nonce>
// Prints {"valid": true, "claims": …, "type": …} or {"valid": false, "error": …}.
import { readFileSync } from 'node:fs';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import { decodePart, verifyEs256, verifyWithIssuerMetadata } from './common.mjs';

const [file, nonce] = process.argv.slice(2);
const presentation = readFileSync(file, 'utf8').trim();

const verifier = new SDJwtVcInstance({
  hasher: digest,
  verifier: verifyWithIssuerMetadata,
  kbVerifier: async (data, signature, payload) => verifyEs256(payload.cnf.jwk, data, signature),
  statusListFetcher: async (uri) => {
    // as the library's own fetcher, plus the draft's check that `sub` is the URI asked for
    const response = await fetch(uri, { headers: { Accept: 'application/statuslist+jwt' } });
    if (!response.ok) throw new Error(`status list: HTTP ${response.status}`);
    if (!response.headers.get('content-type')?.includes('application/statuslist+jwt')) {
      throw new Error('status list: not application/statuslist+jwt');
    }
    const token = await response.text();
    const [header, payload] = token.split('.').slice(0, 2).map(decodePart);
    if (header.typ !== 'statuslist+jwt') throw new Error('status list: typ');
    if (payload.sub !== uri) throw new Error(`status list: sub ${payload.sub} is not ${uri}`);
    if (payload.exp !== undefined && payload.exp <= Math.floor(Date.now() / 1000)) {
      throw new Error('status list: expired');
    }
    return token;
  },
  loadTypeMetadataFormat: true,
});

try {
  const result = await verifier.verify(presentation, { keyBindingNonce: nonce });
  const claims = await verifier.getClaims(presentation).catch(() => result.payload);
  console.log(JSON.stringify({
    valid: true,
    claims,
    type: result.typeMetadata?.mergedTypeMetadata ?? null,
  }));
} catch (error) {
  console.log(JSON.stringify({ valid: false, error: String(error?.message ?? error) }));
}
