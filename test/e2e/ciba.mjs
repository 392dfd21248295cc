// The whole CIBA flow as a TPP runs it with openid-client v6, and the bank's app beside it.
// Input (env): ISSUER, CLIENT_ID, CLIENT_JWK (private ES256 JWK: client assertions and the
// signed request object), MODE (poll | ping | push), WEBHOOK_FD and WEBHOOK_SECRET (the
// bank's push service, served on the listening socket the test hands over as that file
// descriptor: verifies the gateway's webhook and approves through the decision API with
// ACCOUNT), CB_FD (the TPP's notification endpoint for ping and push, the same way),
// LOGIN_HINT. Output: one JSON line with what the client got.
import * as client from 'openid-client';
import * as jose from 'jose';
import { createHmac, randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const { ISSUER, CLIENT_ID, CLIENT_JWK, MODE = 'poll', WEBHOOK_FD, WEBHOOK_SECRET, CB_FD,
  LOGIN_HINT = 'alice@example.com', ACCOUNT } = process.env;

const readBody = (req) => new Promise((resolve) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks)));
});

// listen serves on the listening socket fd, handing each request to onRequest and answering 204.
function listen(fd, onRequest) {
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    try {
      await onRequest(req, body);
      res.writeHead(204).end();
    } catch (e) {
      console.error(e);
      res.writeHead(500).end();
    }
  });
  return new Promise((resolve) => server.listen({ fd: Number(fd) }, () => resolve(server)));
}

// The bank's push service: check the Standard Webhooks signature, then approve.
let approved;
const decided = new Promise((resolve) => { approved = resolve; });
const webhook = await listen(WEBHOOK_FD, async (req, body) => {
  const key = Buffer.from(WEBHOOK_SECRET.replace(/^whsec_/, ''), 'base64');
  const signed = `${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${body}`;
  const want = Buffer.from('v1,' + createHmac('sha256', key).update(signed).digest('base64'));
  const got = Buffer.from(String(req.headers['webhook-signature']));
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error('bad webhook signature');
  const note = JSON.parse(body);
  const res = await fetch(note.decision_url, {
    method: 'POST',
    headers: { authorization: `Bearer ${note.device_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve', accounts: [ACCOUNT] }),
  });
  if (res.status !== 204) throw new Error(`decision API answered ${res.status}`);
  approved(note);
});

// The TPP's notification endpoint.
let notified;
const callback = new Promise((resolve) => { notified = resolve; });
const cb = MODE === 'poll' ? null : await listen(CB_FD, async (req, body) => {
  notified({ authorization: req.headers.authorization, body: JSON.parse(body) });
});

const jwk = JSON.parse(CLIENT_JWK);
const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.PrivateKeyJwt({ key, kid: jwk.kid }), {
  execute: [client.allowInsecureRequests],
});
client.enableNonRepudiationChecks(config);

// Steps 1 and 2: a client-credentials token, then the consent.
const cc = await client.clientCredentialsGrant(config, { scope: 'accounts' });
const consentRes = await client.fetchProtectedResource(config, cc.access_token,
  new URL(`${ISSUER}/open-banking/v3.1/aisp/account-access-consents`), 'POST',
  JSON.stringify({ Data: { Permissions: ['ReadAccountsDetail', 'ReadBalances'], ExpirationDateTime: '2099-01-01T00:00:00+00:00' }, Risk: {} }),
  new Headers({ 'content-type': 'application/json' }));
const consentId = (await consentRes.json()).Data.ConsentId;

// Step 3: the signed request object carries the consent.
const notificationToken = randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '');
const claims = {
  scope: 'openid accounts', login_hint: LOGIN_HINT, binding_message: '1234',
  openbanking_intent_id: { value: consentId, essential: true },
  ...(MODE === 'poll' ? {} : { client_notification_token: notificationToken }),
};
const request = await new jose.SignJWT(claims)
  .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'oauth-authz-req+jwt' })
  .setIssuer(CLIENT_ID).setAudience(ISSUER).setIssuedAt().setNotBefore('0s').setExpirationTime('5m').setJti(randomUUID())
  .sign(key);
const ba = await client.initiateBackchannelAuthentication(config, { request });

// Steps 4 and 5: the user approves on the device; the TPP gets the tokens.
const note = await decided;
let out = { consent_id: consentId, notification_subject: note.subject, expires_in: ba.expires_in, interval: ba.interval };
if (MODE === 'push') {
  const pushed = await callback;
  const { payload } = await jose.jwtVerify(pushed.body.id_token, jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri)), {
    issuer: ISSUER, audience: CLIENT_ID,
  });
  const half = (s) => createHash('sha256').update(s).digest().subarray(0, 16).toString('base64url');
  if (payload.at_hash !== half(pushed.body.access_token)) throw new Error('at_hash');
  if (payload['urn:openid:params:jwt:claim:rt_hash'] !== half(pushed.body.refresh_token)) throw new Error('rt_hash');
  if (payload['urn:openid:params:jwt:claim:auth_req_id'] !== ba.auth_req_id) throw new Error('auth_req_id claim');
  if (pushed.authorization !== `Bearer ${notificationToken}`) throw new Error('push bearer');
  out = { ...out, access_token: pushed.body.access_token, sub: payload.sub, auth_time: payload.auth_time };
} else {
  if (MODE === 'ping') {
    const ping = await callback;
    if (ping.authorization !== `Bearer ${notificationToken}`) throw new Error('ping bearer');
    if (JSON.stringify(ping.body) !== JSON.stringify({ auth_req_id: ba.auth_req_id })) throw new Error('ping body');
  }
  const tokens = await client.pollBackchannelAuthenticationGrant(config, ba);
  const idt = tokens.claims();
  out = { ...out, access_token: tokens.access_token, sub: idt.sub, auth_time: idt.auth_time, token_type: tokens.token_type };
}
webhook.close();
cb?.close();
console.log(JSON.stringify(out));
