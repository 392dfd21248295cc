// The UK Open Banking x-jws-signature made and checked by an independent library (jose),
// for the Go test internal/obsig TestJoseInterop.
//
// Input (env JWS_INPUT, JSON):
//   sign:   { jwk (private RSA JWK with kid), iss, tan, iat, bodies: [base64] }
//   verify: { jwk (public RSA JWK), iss, tan, items: [{ form, value, body (base64) }] }
// Output: one JSON line
//   { signed: [{ case, form, body (index), value }], verified: [{ ok, error }] }
// A form is "unencoded" (v3.1.0-3.1.3: b64 false, in crit) or "encoded" (v3.1.4+: no b64).
import * as jose from 'jose';

const IAT = 'http://openbanking.org.uk/iat';
const ISS = 'http://openbanking.org.uk/iss';
const TAN = 'http://openbanking.org.uk/tan';
// The OB claims are extensions jose must be told it understands, or it refuses their crit.
const understood = { [IAT]: true, [ISS]: true, [TAN]: true };

const input = JSON.parse(process.env.JWS_INPUT);
const bytes = (b64) => new Uint8Array(Buffer.from(b64, 'base64'));

// header is the compliant header of a form; faults below edit it.
function header(form, { kid, iss, tan, iat }) {
  const h = { alg: 'PS256', kid, typ: 'JOSE', cty: 'application/json', [IAT]: iat, [ISS]: iss, [TAN]: tan };
  if (form === 'unencoded') {
    h.b64 = false;
    h.crit = ['b64', IAT, ISS, TAN];
  } else {
    h.crit = [IAT, ISS, TAN];
  }
  return h;
}

// detached signs body and drops the payload from the compact form: header..signature.
async function detached(body, key, protectedHeader) {
  const jws = await new jose.FlattenedSign(body).setProtectedHeader(protectedHeader).sign(key, { crit: understood });
  return `${jws.protected}..${jws.signature}`;
}

const out = { signed: [], verified: [] };

if (input.sign) {
  const s = input.sign;
  const claims = { kid: s.jwk.kid, iss: s.iss, tan: s.tan, iat: s.iat };
  const ps256 = await jose.importJWK(s.jwk, 'PS256');
  const rs256 = await jose.importJWK(s.jwk, 'RS256');
  const bodies = s.bodies.map(bytes);

  // Compliant signatures of every body in both forms.
  for (const form of ['encoded', 'unencoded']) {
    for (const [i, body] of bodies.entries()) {
      out.signed.push({ case: 'good', form, body: i, value: await detached(body, ps256, header(form, claims)) });
    }
  }

  // Faults, each over the first body, each a valid JWS to jose.
  const faults = {
    rs256: [rs256, (h) => ({ ...h, alg: 'RS256' })],
    'crit-without-tan': [ps256, (h) => ({ ...h, crit: h.crit.filter((c) => c !== TAN) })],
    'no-tan': [ps256, (h) => {
      const { [TAN]: _, ...rest } = h;
      return { ...rest, crit: h.crit.filter((c) => c !== TAN) };
    }],
    'iat-string': [ps256, (h) => ({ ...h, [IAT]: String(h[IAT]) })],
    'iat-future': [ps256, (h) => ({ ...h, [IAT]: h[IAT] + 3600 })],
    'wrong-iss': [ps256, (h) => ({ ...h, [ISS]: 'someone-else' })],
    'wrong-tan': [ps256, (h) => ({ ...h, [TAN]: 'evil.example' })],
    'typ-jwt': [ps256, (h) => ({ ...h, typ: 'JWT' })],
    'no-crit': [ps256, (h) => {
      const { crit: _, ...rest } = h;
      return rest;
    }],
  };
  for (const form of ['encoded', 'unencoded']) {
    for (const [name, [key, edit]] of Object.entries(faults)) {
      if (form === 'unencoded' && name === 'no-crit') continue; // b64 false needs crit
      out.signed.push({ case: name, form, body: 0, value: await detached(bodies[0], key, edit(header(form, claims))) });
    }
    const other = new TextEncoder().encode('{"Data":{"Other":true}}');
    out.signed.push({ case: 'other-body', form, body: 0, value: await detached(other, ps256, header(form, claims)) });
  }
}

if (input.verify) {
  const v = input.verify;
  const key = await jose.importJWK(v.jwk, 'PS256');
  for (const item of v.items) {
    try {
      const [protectedB64, payload, signature, ...rest] = item.value.split('.');
      if (payload !== '' || rest.length) throw new Error('not header..signature');
      const body = bytes(item.body);
      const jws = {
        protected: protectedB64,
        signature,
        payload: item.form === 'unencoded' ? body : jose.base64url.encode(body),
      };
      const { protectedHeader: h } = await jose.flattenedVerify(jws, key, { algorithms: ['PS256'], crit: understood });
      // jose checks crit's entries are present and understood; the profile's rules on top:
      const want = item.form === 'unencoded' ? ['b64', IAT, ISS, TAN] : [IAT, ISS, TAN];
      if (h.crit.length !== want.length || !want.every((c) => h.crit.includes(c))) throw new Error(`crit ${h.crit}`);
      if (item.form === 'unencoded' ? h.b64 !== false : 'b64' in h) throw new Error(`b64 ${h.b64}`);
      if (h.kid !== v.jwk.kid) throw new Error(`kid ${h.kid}`);
      if (h[ISS] !== v.iss) throw new Error(`iss ${h[ISS]}`);
      if (h[TAN] !== v.tan) throw new Error(`tan ${h[TAN]}`);
      if (typeof h[IAT] !== 'number') throw new Error(`iat ${h[IAT]}`);
      if (h.typ !== undefined && h.typ !== 'JOSE') throw new Error(`typ ${h.typ}`);
      out.verified.push({ ok: true });
    } catch (err) {
      out.verified.push({ ok: false, error: String(err?.message ?? err) });
    }
  }
}

console.log(JSON.stringify(out));
