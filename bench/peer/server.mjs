// The reference peer of bench/tokens: panva's oidc-provider with CIBA (poll) and client
// credentials, configured like the gateway's benchmark client. Its "authentication
// device" is POST /approve/{auth_req_id}, which grants the request as the gateway's
// decision API does. Started by bench/tokens; PORT sets the loopback port, ALG the ID
// token's algorithm (the gateway's signing_alg in the same run, so both sign alike).
import http from 'node:http';
import { exportJWK, generateKeyPair } from 'jose'; // oidc-provider's own dependency
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const alg = process.env.ALG || 'ES256';
const { privateKey } = await generateKeyPair(alg, { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bench-${alg}` };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  enabledJWA: { idTokenSigningAlgValues: [alg] },
  clients: [{
    id_token_signed_response_alg: alg,
    client_id: 'bench-tpp',
    client_secret: 'bench-secret-0f3c',
    grant_types: ['client_credentials', 'urn:openid:params:grant-type:ciba'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    backchannel_token_delivery_mode: 'poll',
    scope: 'openid accounts',
  }],
  scopes: ['openid', 'accounts'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    ciba: {
      enabled: true,
      deliveryModes: ['poll'],
      processLoginHint: async (ctx, hint) => (hint.startsWith('user-') ? `sub-${hint.slice(5)}` : undefined),
      processLoginHintToken: async () => undefined,
      validateBindingMessage: async () => {},
      validateRequestContext: async () => {},
      verifyUserCode: async () => {},
      triggerAuthenticationDevice: async () => {},
    },
  },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});

const serve = provider.callback();
http.createServer(async (req, res) => {
  const approve = req.method === 'POST' && /^\/approve\/([^/]+)$/.exec(req.url);
  if (!approve) {
    serve(req, res);
    return;
  }
  try {
    const request = await provider.BackchannelAuthenticationRequest.find(decodeURIComponent(approve[1]));
    const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
    grant.addOIDCScope('openid');
    grant.addResourceScope('urn:oidc-provider:example:foo', 'accounts');
    await grant.save();
    await provider.backchannelResult(request, grant);
    res.writeHead(204).end();
  } catch (err) {
    res.writeHead(400).end(String(err));
  }
}).listen(port, '127.0.0.1', () => console.log(`oidc-provider ready on ${issuer}`));
