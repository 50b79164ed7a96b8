// Shared by the interop scripts: fetch JSON, resolve an issuer's keys from its published
// JWT VC Issuer Metadata (nothing else), verify EdDSA and ES256 JWS signatures.
import { createPublicKey, verify } from 'node:crypto';

export async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.json();
}

// SD-JWT VC: the metadata of issuer https://host/path is at https://host/.well-known/jwt-vc-issuer/path
export function jwtVcIssuerMetadataUrl(iss) {
  const url = new URL(iss);
  return `${url.origin}/.well-known/jwt-vc-issuer${url.pathname.replace(/\/$/, '')}`;
}

export function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// A verifier callback for @sd-jwt: the JWS's `iss` names the issuer, whose metadata
// lists its keys; the header's kid picks one.
export async function verifyWithIssuerMetadata(data, signature) {
  const [headerPart, payloadPart] = data.split('.');
  const header = decodePart(headerPart);
  const payload = decodePart(payloadPart);
  const metadata = await getJson(jwtVcIssuerMetadataUrl(payload.iss));
  if (metadata.issuer !== payload.iss) throw new Error('metadata names another issuer');
  const jwk = metadata.jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return verify(null, Buffer.from(data), key, Buffer.from(signature, 'base64url'));
}

export function verifyEs256(jwk, data, signature) {
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return verify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}
