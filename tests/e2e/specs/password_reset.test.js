// "Forgot password?" (SPEC §8): the number, then the code with a new password.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { messagesTo, nthCodeTo, nthMessageTo } from '../lib/fake_twilio.js';
import { PASSWORD, signUpVerified } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, until } from '../lib/harness.js';
import { wrongCode } from '../pages/code_form.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { ResetPasswordPage } from '../pages/reset_password.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('reset a forgotten password by SMS; the old password is then refused', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUpVerified(page);
  await new DashboardPage(page).signOut.click();
  const login = new LoginPage(page);
  await login.heading.waitFor();

  await login.forgot.click();
  await expectPath(page, '/reset-password');
  const reset = new ResetPasswordPage(page);
  await reset.heading.waitFor();
  await reset.start(user.phone.typed);
  const code = await nthCodeTo(user.phone.e164, 2);
  const attributes = await reset.code.attributes();
  assert.equal(attributes[0].autocomplete, 'one-time-code');
  assert.ok(attributes.every((a) => a.inputmode === 'numeric'));

  const fresh = 'a brand new passphrase';
  // A wrong code costs an attempt and says what is left.
  await reset.code.type(wrongCode(code));
  await reset.password.fill(fresh);
  await reset.confirm.fill(fresh);
  await reset.submit.click();
  await expectText(reset.code.alert, /not right\. 4 attempts left/);

  // The new password is checked with the API's rules before anything is sent.
  await reset.code.type(code);
  await reset.password.fill('short');
  await reset.submit.click();
  await expectText(reset.errorOf('new-password'), /^Must be at least 8 characters\.$/);
  await reset.password.fill(fresh);
  await reset.confirm.fill('something else');
  await reset.submit.click();
  await expectText(reset.errorOf('confirm-new-password'), /must match/i);
  assert.equal(await reset.confirm.evaluate((e) => e === document.activeElement), true, 'focus goes to the field to fix');
  await reset.confirm.fill(fresh);
  await reset.submit.click();

  await expectPath(page, '/login');
  await expectText(login.notice, /password was changed/i);
  // The number is told about the change.
  await until(async () => (await messagesTo(user.phone.e164)).length >= 3, { what: 'the notice SMS' });
  assert.doesNotMatch((await nthMessageTo(user.phone.e164, 3)).body, /\d{6}/);

  await login.signIn(user.email, PASSWORD);
  await expectText(login.alert, /incorrect/);
  await login.password.fill(fresh);
  await login.submit.click();
  await expectPath(page, '/dashboard');
  await t.close();
});
