// The OpenID provider of the sign-on tests: panva's oidc-provider with its own
// login and consent pages (devInteractions: any password is taken; a login
// the accounts file does not know is refused), on 127.0.0.1:<port>.
// node provider.mjs PORT; OIDC_ACCOUNTS is a JSON file: {login: {claims}}.
import fs from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const accounts = () => JSON.parse(fs.readFileSync(process.env.OIDC_ACCOUNTS, 'utf8'));

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'desk',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/login/oidc/done'],
    post_logout_redirect_uris: ['http://127.0.0.1/login'],
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    phone: ['phone_number'],
    campus: ['student_number', 'employee_number', 'groups', 'affiliation'],
  },
  scopes: ['openid', 'profile', 'email', 'phone', 'campus'],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['oidc-test-only'] },
  ttl: { AuthorizationCode: 60, Session: 3600, Grant: 3600, Interaction: 600, IdToken: 3600, AccessToken: 600 },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account.claims }; } };
  },
});

// The desk under test listens on a port chosen at start: accept its
// callback and logout return on any loopback port (the oidc-provider
// recipe for redirect_uri wildcards).
const loopback = (uri, path) => {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(url.hostname) && url.pathname === path && !url.search;
  } catch { return false; }
};
provider.Client.prototype.redirectUriAllowed = function (uri) { return loopback(uri, '/login/oidc/done'); };
provider.Client.prototype.postLogoutRedirectUriAllowed = function (uri) { return loopback(uri, '/login'); };


provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
