// A real OpenID Connect provider (the `oidc-provider` library) on 127.0.0.1, for ybiyri's
// single sign-on tests. Started by tests/security/conftest.py:
//
//   OIDC_CLIENTS='[{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}]' \
//     node tests/oidc/provider.mjs
//
// It listens on an ephemeral port and prints one JSON line {"issuer": "http://127.0.0.1:PORT"} when
// ready. Any login name is accepted at the provider's own sign-in form (its development
// interactions); the account's claims are derived from that name (alice → alice@example.org).
//
// A login name may override the account's claims after semicolons, for testing how ybiyri treats
// what providers send: `gina;email_verified="false"` sends the string "false", `gina;email_verified=false`
// the boolean, and `gina;email_verified` (no value) leaves the claim out. Values are JSON.
//
// Clients listed in OIDC_WRONG_AUDIENCE_CLIENTS get ID tokens whose `aud` names another
// application, re-signed with the provider's own key: this stands in for a token substitution or
// a misconfigured provider, so the relying party's audience check is what has to refuse it.
import http from 'node:http';

import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const wrongAudienceClients = new Set(
  (process.env.OIDC_WRONG_AUDIENCE_CLIENTS || '').split(',').filter(Boolean),
);

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: 'ybiyri-test-key', alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(signingJwk, 'RS256');

function claimsFor(accountId) {
  const [login, ...overrides] = accountId.split(';');
  const given = login.charAt(0).toUpperCase() + login.slice(1);
  const claims = {
    sub: accountId,
    email: `${login}@example.org`,
    email_verified: true,
    preferred_username: login,
    name: `${given} Example`,
    given_name: given,
    family_name: 'Example',
  };
  for (const override of overrides) {
    const separator = override.indexOf('=');
    if (separator === -1) {
      delete claims[override];
    } else {
      claims[override.slice(0, separator)] = JSON.parse(override.slice(separator + 1));
    }
  }
  return claims;
}

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  },
  findAccount: (ctx, accountId) => ({ accountId, claims: () => claimsFor(accountId) }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['ybiyri-test-cookie-key'] },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
});

provider.use(async (ctx, next) => {
  await next();
  const clientId = ctx.oidc?.client?.clientId;
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token && wrongAudienceClients.has(clientId)) {
    const claims = decodeJwt(ctx.body.id_token);
    ctx.body = {
      ...ctx.body,
      id_token: await new SignJWT({ ...claims, aud: 'another-application', azp: 'another-application' })
        .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' })
        .sign(signingKey),
    };
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.close(); process.exit(0); });
}
