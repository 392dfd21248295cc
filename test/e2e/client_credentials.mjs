// Gets a client-credentials token from the gateway the way a TPP does, with openid-client.
// Input (env): ISSUER, CLIENT_ID, and CLIENT_SECRET (client_secret_basic) or
// CLIENT_JWK (a private JWK, private_key_jwt). Output: one JSON line with the token response.
import * as client from 'openid-client';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, CLIENT_JWK, SCOPE = 'accounts' } = process.env;

let auth;
if (CLIENT_JWK) {
  const jwk = JSON.parse(CLIENT_JWK);
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  auth = client.PrivateKeyJwt({ key, kid: jwk.kid });
} else {
  auth = client.ClientSecretBasic(CLIENT_SECRET);
}

const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, auth, {
  execute: [client.allowInsecureRequests],
});
const tokens = await client.clientCredentialsGrant(config, { scope: SCOPE });
console.log(JSON.stringify({
  access_token: tokens.access_token,
  token_type: tokens.token_type,
  expires_in: tokens.expiresIn(),
  scope: tokens.scope,
}));
