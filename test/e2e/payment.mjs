// A payment and a funds confirmation as a PISP/CBPII runs them with openid-client v6:
// client credentials → consent → signed CIBA request → (the user approves on the device;
// the Go test does that in Chromium) → tokens → the payment / funds confirmation through
// the gate. Every POST carries an x-idempotency-key and the client's x-jws-signature
// (UK OB detached JWS made with jose); every answer's x-jws-signature is verified with
// jose against the gateway's JWKS.
//
// Input (env): ISSUER, CLIENT_ID, CLIENT_JWK (private ES256 JWK: client assertions and the
// request objects), SIGNER_JWK (private RSA JWK: x-jws-signature), JWS_ISS (the client's
// http://openbanking.org.uk/iss), INITIATION and RISK (JSON of the payment), FUNDS_DEBTOR
// (JSON of the funds consent's DebtorAccount), LOGIN_HINT.
// Output: one JSON line with what the client got.
import * as client from 'openid-client';
import * as jose from 'jose';
import { randomUUID } from 'node:crypto';

const { ISSUER, CLIENT_ID, CLIENT_JWK, SIGNER_JWK, JWS_ISS, INITIATION, RISK, FUNDS_DEBTOR,
  LOGIN_HINT = 'alice@example.com' } = process.env;
const OB = `${ISSUER}/open-banking/v3.1`;
// step notes progress on stderr, which the Go test shows when it fails.
const step = (what) => console.error(`${new Date().toISOString()} ${what}`);

const IAT = 'http://openbanking.org.uk/iat';
const ISS = 'http://openbanking.org.uk/iss';
const TAN = 'http://openbanking.org.uk/tan';
const understood = { [IAT]: true, [ISS]: true, [TAN]: true };
// The gateway serves v3.1.10 by default: the encoded form (no b64 header).
const CRIT = [IAT, ISS, TAN];
const TRUST_ANCHOR = 'openbanking.org.uk';

const jwk = JSON.parse(CLIENT_JWK);
const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
const signerJWK = JSON.parse(SIGNER_JWK);
const signer = await jose.importJWK(signerJWK, 'PS256');

const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.PrivateKeyJwt({ key, kid: jwk.kid }), {
  execute: [client.allowInsecureRequests],
});
client.enableNonRepudiationChecks(config);
step(`discovered ${ISSUER}`);
const gatewayKeys = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));

// sign is the client's detached x-jws-signature over body.
async function sign(body) {
  const jws = await new jose.FlattenedSign(new TextEncoder().encode(body))
    .setProtectedHeader({
      alg: 'PS256', kid: signerJWK.kid, typ: 'JOSE', cty: 'application/json',
      [IAT]: Math.floor(Date.now() / 1000), [ISS]: JWS_ISS, [TAN]: TRUST_ANCHOR, crit: CRIT,
    })
    .sign(signer, { crit: understood });
  return `${jws.protected}..${jws.signature}`;
}

// verified checks the gateway's x-jws-signature of an answer with jose and the OB rules.
async function verified(res, raw) {
  const value = res.headers.get('x-jws-signature');
  if (!value) throw new Error(`${res.url}: answer ${res.status} not signed`);
  const [protectedB64, payload, signature, ...rest] = value.split('.');
  if (payload !== '' || rest.length) throw new Error('the gateway signature is not header..signature');
  const { protectedHeader: h } = await jose.flattenedVerify(
    { protected: protectedB64, signature, payload: jose.base64url.encode(raw) },
    gatewayKeys, { algorithms: ['PS256'], crit: understood });
  if (h.crit.length !== CRIT.length || !CRIT.every((c) => h.crit.includes(c)) || 'b64' in h) throw new Error(`crit ${h.crit}`);
  if (h[ISS] !== ISSUER || h[TAN] !== TRUST_ANCHOR || typeof h[IAT] !== 'number') throw new Error(`claims ${JSON.stringify(h)}`);
  return true;
}

// call is one OB API call: a POST carries an idempotency key and the client's signature.
// The answer's signature is checked whenever the answer is signed, and required where the
// gate answers (the payment and the funds confirmation); the consent endpoints, served by
// the gateway itself, do not sign today.
async function call(method, path, token, body, { idempotencyKey = randomUUID(), mustSign = false } = {}) {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json', 'x-fapi-interaction-id': randomUUID() };
  let raw;
  if (body !== undefined) {
    raw = JSON.stringify(body);
    Object.assign(headers, {
      'content-type': 'application/json', 'x-idempotency-key': idempotencyKey, 'x-jws-signature': await sign(raw),
    });
  }
  const res = await fetch(`${OB}${path}`, { method, headers, body: raw });
  const text = await res.text();
  step(`${method} ${path}: ${res.status}`);
  if (mustSign && !res.headers.has('x-jws-signature')) throw new Error(`${method} ${path}: answer ${res.status} not signed`);
  const signed = res.headers.has('x-jws-signature') ? await verified(res, text) : false;
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json, text, signed };
}

function expect(what, res, status) {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res;
}

// authorise runs CIBA for the consent with a signed request object and polls for the
// tokens while the user decides on the device.
async function authorise(scope, consentId) {
  const request = await new jose.SignJWT({
    scope, login_hint: LOGIN_HINT, binding_message: 'PAY 4F2Q',
    openbanking_intent_id: { value: consentId, essential: true },
  })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'oauth-authz-req+jwt' })
    .setIssuer(CLIENT_ID).setAudience(ISSUER).setIssuedAt().setNotBefore('0s').setExpirationTime('5m').setJti(randomUUID())
    .sign(key);
  const ba = await client.initiateBackchannelAuthentication(config, { request });
  step(`${scope}: waiting for the decision on ${consentId}`);
  const tokens = await client.pollBackchannelAuthenticationGrant(config, ba);
  const idt = tokens.claims();
  if (idt.openbanking_intent_id !== undefined && idt.openbanking_intent_id !== consentId) throw new Error('intent id in the ID token');
  return tokens;
}

// The payment.
const initiation = JSON.parse(INITIATION);
const risk = JSON.parse(RISK);
const payCC = await client.clientCredentialsGrant(config, { scope: 'payments' });
step('client credentials: payments');
const payConsent = expect('payment consent', await call('POST', '/pisp/domestic-payment-consents', payCC.access_token,
  { Data: { Initiation: initiation }, Risk: risk }, { mustSign: true }), 201);
const payConsentId = payConsent.json.Data.ConsentId;
const payTokens = await authorise('openid payments', payConsentId);
const authorised = expect('payment consent after approval',
  await call('GET', `/pisp/domestic-payment-consents/${payConsentId}`, payCC.access_token), 200);
const paymentKey = randomUUID();
const paymentBody = { Data: { ConsentId: payConsentId, Initiation: initiation }, Risk: risk };
const paid = expect('payment', await call('POST', '/pisp/domestic-payments', payTokens.access_token, paymentBody, { idempotencyKey: paymentKey, mustSign: true }), 201);
// The same request again under its idempotency key: the first answer, no second payment.
const repeat = expect('repeated payment', await call('POST', '/pisp/domestic-payments', payTokens.access_token, paymentBody, { idempotencyKey: paymentKey, mustSign: true }), 201);
if (repeat.text !== paid.text) throw new Error(`the repeat answered ${repeat.text}, first ${paid.text}`);
const consumed = expect('payment consent after the payment',
  await call('GET', `/pisp/domestic-payment-consents/${payConsentId}`, payCC.access_token), 200);

// The funds confirmation.
const fundsCC = await client.clientCredentialsGrant(config, { scope: 'fundsconfirmations' });
const fundsConsent = expect('funds consent', await call('POST', '/cbpii/funds-confirmation-consents', fundsCC.access_token,
  { Data: { DebtorAccount: JSON.parse(FUNDS_DEBTOR) } }, { mustSign: true }), 201);
const fundsConsentId = fundsConsent.json.Data.ConsentId;
const fundsTokens = await authorise('openid fundsconfirmations', fundsConsentId);
const confirmation = expect('funds confirmation', await call('POST', '/cbpii/funds-confirmations', fundsTokens.access_token,
  { Data: { ConsentId: fundsConsentId, Reference: 'Purchase01', InstructedAmount: { Amount: '20.00', Currency: 'GBP' } } }, { mustSign: true }), 201);
const fundsAfter = expect('funds consent after approval',
  await call('GET', `/cbpii/funds-confirmation-consents/${fundsConsentId}`, fundsCC.access_token), 200);

console.log(JSON.stringify({
  payment: {
    consent_id: payConsentId,
    consent_status: payConsent.json.Data.Status,
    consent_signed: payConsent.signed,
    authorised_status: authorised.json.Data.Status,
    scope: payTokens.scope,
    sub: payTokens.claims().sub,
    domestic_payment_id: paid.json.Data.DomesticPaymentId,
    payment_consent_id: paid.json.Data.ConsentId,
    payment_signed: paid.signed,
    repeat_signed: repeat.signed,
    consumed_status: consumed.json.Data.Status,
  },
  funds: {
    consent_id: fundsConsentId,
    consent_status: fundsConsent.json.Data.Status,
    consent_signed: fundsConsent.signed,
    scope: fundsTokens.scope,
    authorised_status: fundsAfter.json.Data.Status,
    confirmation_signed: confirmation.signed,
    funds_available: confirmation.json.Data.FundsAvailable,
    confirmation_id: confirmation.json.Data.FundsConfirmationId,
  },
}));
