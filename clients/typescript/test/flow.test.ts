// The client against a live server (scripts/clients.sh starts one: SQLite, console SMS):
// sign up with a number, verify it with the code from the development inbox, replace it
// with a second number (it waits in `pending_e164` until its own code), and read the
// history. Every call goes through the generated types, so `npm run build` failing is
// this test failing too.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createPhoneRegClient, type PhoneRegClient, type Schemas } from "../src/index.js";

const BASE_URL = process.env.PHONEREG_BASE_URL;
const PASSWORD = "correct horse battery staple";
// UK mobiles: SMS-capable, and not in the development presets (+1 XXX 555-01XX), so the
// codes really go through the outbox and the console provider.
const FIRST = "+447400123456";
const SECOND = "+447400654321";

/** The code in the newest development-inbox message to `e164` that is not `previous`. */
async function codeFor(api: PhoneRegClient, e164: string, previous?: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { data, error } = await api.GET("/api/v1/dev/sms");
    assert.ok(data, `dev inbox: ${JSON.stringify(error)}`);
    const code = data.items
      .filter((m) => m.to === e164)
      .map((m) => /\b(\d{6})\b/.exec(m.body)?.[1])
      .find((c) => c !== undefined && c !== previous);
    if (code) return code;
    assert.ok(Date.now() < deadline, `no code for ${e164} in the development inbox`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("sign up, verify, change the number and read its history", { skip: !BASE_URL && "PHONEREG_BASE_URL is not set (scripts/clients.sh sets it)" }, async () => {
  let token: string | undefined;
  const api = createPhoneRegClient({ baseUrl: BASE_URL ?? "", accessToken: () => token });

  const email = `ts-client-${Date.now()}@example.com`;
  const registered = await api.POST("/api/v1/auth/register", {
    body: { email, password: PASSWORD, full_name: "TypeScript Client", phone_number: FIRST },
  });
  assert.equal(registered.response.status, 201, JSON.stringify(registered.error));
  assert.ok(registered.data);
  token = registered.data.access_token;
  const phone: Schemas["Phone"] | null = registered.data.user.phone;
  assert.ok(phone, "register with a number answers the phone");
  assert.equal(phone.e164, FIRST);
  assert.equal(phone.status, "unverified");
  assert.equal(registered.data.verification?.sent, true);
  const id = phone.id;

  // A wrong code: the documented 422, typed, with the attempts left.
  const firstCode = await codeFor(api, FIRST);
  const wrong = firstCode === "000000" ? "111111" : "000000";
  const refused = await api.POST("/api/v1/users/me/phone-numbers/{id}/verify", {
    params: { path: { id } },
    body: { code: wrong },
  });
  assert.equal(refused.response.status, 422);
  assert.equal(refused.response.headers.get("content-type"), "application/problem+json");
  assert.equal(refused.error?.verification?.attempts_remaining, 4);

  const verified = await api.POST("/api/v1/users/me/phone-numbers/{id}/verify", {
    params: { path: { id } },
    body: { code: firstCode },
  });
  assert.equal(verified.response.status, 200, JSON.stringify(verified.error));
  assert.equal(verified.data?.status, "verified");

  // Replacing a verified number needs the password, and waits for the new number's code.
  const changed = await api.PATCH("/api/v1/users/me/phone-numbers/{id}", {
    params: { path: { id } },
    body: { phone_number: SECOND, current_password: PASSWORD },
  });
  assert.equal(changed.response.status, 200, JSON.stringify(changed.error));
  assert.equal(changed.data?.e164, FIRST, "the verified number stays in force");
  assert.equal(changed.data?.pending_e164, SECOND);
  const secondCode = await codeFor(api, SECOND);
  const confirmed = await api.POST("/api/v1/users/me/phone-numbers/{id}/verify", {
    params: { path: { id } },
    body: { code: secondCode },
  });
  assert.equal(confirmed.response.status, 200, JSON.stringify(confirmed.error));
  assert.equal(confirmed.data?.e164, SECOND);
  assert.equal(confirmed.data?.pending_e164, null);
  assert.equal(confirmed.data?.status, "verified");

  const me = await api.GET("/api/v1/users/me");
  assert.equal(me.data?.email, email);
  assert.equal(me.data?.phone?.e164, SECOND);

  const history = await api.GET("/api/v1/users/me/phone-numbers/{id}/history", {
    params: { path: { id } },
  });
  assert.equal(history.response.status, 200, JSON.stringify(history.error));
  const kinds = history.data?.items.map((item) => item.kind) ?? [];
  for (const kind of ["added", "code_sent", "verified", "changed"]) {
    assert.ok(kinds.includes(kind), `history lacks ${kind}: ${kinds.join(", ")}`);
  }
  assert.equal(kinds.indexOf("changed") < kinds.lastIndexOf("added"), true, `newest first: ${kinds.join(", ")}`);

  // Without the token the same call is the documented 401.
  token = undefined;
  const anonymous = await api.GET("/api/v1/users/me");
  assert.equal(anonymous.response.status, 401);
  assert.equal(anonymous.error?.status, 401);
});
