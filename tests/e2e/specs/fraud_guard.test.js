// SPEC §9: when the SMS fraud guard has paused texts to a number's range, the signup form
// says so in plain words next to the phone field. Against the console-provider API, which
// runs the guard on its defaults: the range is pumped through the API first.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { PASSWORD } from '../lib/flows.js';
import { expectText, launch, openPage, screenshot, uniqueEmail } from '../lib/harness.js';
import { RegisterPage } from '../pages/register.js';

const CONSOLE_URL = process.env.E2E_CONSOLE_BASE_URL;
// An Australian mobile range (+61 412 0…) that no other spec uses.
const RANGE_FLOOR = 15;
const pumped = (n) => `+614120${String(10000 + n).padStart(5, '0')}`;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a paused number range is explained next to the phone field', { skip: !CONSOLE_URL && 'E2E_CONSOLE_BASE_URL is not set' }, async () => {
  for (let n = 0; n < RANGE_FLOOR; n += 1) {
    const res = await fetch(`${CONSOLE_URL}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail('pump'), password: PASSWORD, full_name: 'Pump', phone_number: pumped(n) }),
    });
    assert.equal(res.status, 201, `pumping sign-up ${n}: ${await res.text()}`);
  }

  const t = await openPage(browser, { baseURL: CONSOLE_URL });
  const register = new RegisterPage(t.page);
  await register.goto();
  await register.fill({ fullName: 'Real Person', email: uniqueEmail(), password: PASSWORD, phone: '0412 099 999', country: 'AU' });
  await expectText(t.page.locator('[id="phone-status"]'), /Mobile number/);
  await register.submit.click();
  await expectText(register.errorOf('phone'), /paused text messages to numbers like this one.*Try again in/);
  await screenshot(t.page, 'register-range-paused');
  assert.equal(new URL(t.page.url()).pathname, '/register');
  await t.close();
});
