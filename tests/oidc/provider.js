// A real OpenID provider (oidc-provider) for the Tenantdesk tests.
//
//   node provider.js <port> '<clients JSON>'
//
// Issuer http://127.0.0.1:<port>. Clients come from the harness (one per test tenant, with the
// redirect URIs of that tenant's provider rows). oidc-provider's own development login and
// consent pages stay on: the tests fill them in like a person would, with a cookie jar or in
// Chromium. Any password is accepted; the login name picks the account below.
//
// A client may carry test-only misbehaviour, applied to the ID token of the token response and
// re-signed with the provider's own key, so only the relying party's checks can catch it:
//   "id_token_audience": "<other client id>"   (a token meant for another client)
//   "id_token_nonce": "<value>"                (a token of another flow)
//
// PUT /test/accounts/<login> with a JSON object changes that account's claims (e.g. a new
// email address at the provider). Prints "ready" once listening.

import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';

const port = Number(process.argv[2]);
const clients = JSON.parse(process.argv[3] ?? '[]');
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.js <port> <clients JSON>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const accounts = {
  alice: {
    email: 'alice@example.com', email_verified: true,
    given_name: 'Alice', family_name: 'Archer', department: 'Support',
  },
  bob: {
    email: 'bob@example.com', email_verified: false,
    given_name: 'Bob', family_name: 'Baker', department: 'Sales',
  },
  carol: {
    email: 'carol@elsewhere.test', email_verified: true,
    given_name: 'Carol', family_name: 'Cooper', department: 'Finance',
  },
  dave: {
    email: 'dave@example.com', email_verified: true,
    given_name: 'Dave', family_name: 'Dunn', department: 'Support',
  },
};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const tamper = new Map(clients.map((c) => [c.client_id, c]));

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: ['tenantdesk-test-cookie-key'] },
  // Scope claims go into the ID token too (as Entra ID and Google do), not only userinfo.
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'department'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  // The login picks the account and is its subject (oidc-provider's sub is the account id).
  async findAccount(_ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...accounts[id] };
      },
    };
  },
});

// Test hooks: account changes, and the misbehaving ID tokens described above.
provider.use(async (ctx, next) => {
  const account = ctx.path.match(/^\/test\/accounts\/([a-z]+)$/);
  if (account && ctx.method === 'PUT') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const changes = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (!Object.hasOwn(accounts, account[1])) {
      ctx.status = 404;
      return;
    }
    Object.assign(accounts[account[1]], changes);
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.method === 'POST' && ctx.body?.id_token) {
    const rules = tamper.get(ctx.oidc?.client?.clientId);
    if (rules && (rules.id_token_audience || rules.id_token_nonce)) {
      const claims = decodeJwt(ctx.body.id_token);
      const header = decodeProtectedHeader(ctx.body.id_token);
      if (rules.id_token_audience) claims.aud = rules.id_token_audience;
      if (rules.id_token_nonce) claims.nonce = rules.id_token_nonce;
      ctx.body = {
        ...ctx.body,
        id_token: await new SignJWT(claims)
          .setProtectedHeader({ alg: header.alg, kid: header.kid, typ: header.typ })
          .sign(privateKey),
      };
    }
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
