// "Sign in with a code" on /login (SPEC §8): the number, the code from the SMS, signed in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { codeIn, messagesTo, nthMessageTo } from '../lib/fake_twilio.js';
import { signUpVerified } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, ukMobile, until } from '../lib/harness.js';
import { wrongCode } from '../pages/code_form.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { SignInWithCodePage } from '../pages/sign_in_code.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Signs up with a verified number (SMS #1), signs out, and opens "Sign in with a code". */
async function verifiedUserAtCodeSignIn(page) {
  const user = await signUpVerified(page);
  await new DashboardPage(page).signOut.click();
  const login = new LoginPage(page);
  await login.heading.waitFor();
  await login.withCode.click();
  await expectPath(page, /^\/login\?method=code(&|$)/);
  const signIn = new SignInWithCodePage(page);
  await signIn.heading.waitFor();
  return { user, signIn };
}

test('sign in with a code: a wrong code says what is left, resend after the countdown, then in', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const { user, signIn } = await verifiedUserAtCodeSignIn(page);

  await signIn.start(user.phone.typed);
  await expectText(signIn.step, /If .*7400.* is the verified number/);
  const attributes = await signIn.code.attributes();
  assert.equal(attributes[0].autocomplete, 'one-time-code');
  assert.ok(attributes.every((a) => a.inputmode === 'numeric'), JSON.stringify(attributes));
  const sms = await nthMessageTo(user.phone.e164, 2);
  assert.match(sms.body, /\n@\S+ #\d{6}$/, 'the SMS ends with the WebOTP line');
  const first = codeIn(sms);

  await signIn.code.type(wrongCode(first));
  await signIn.submit.click();
  await expectText(signIn.code.alert, /not right\. 4 attempts left/);
  assert.equal(await signIn.code.value(), '', 'the boxes are cleared for the next try');

  // VERIFY_RESEND_COOLDOWN is 5 s in the suite: the button counts down, then sends.
  assert.ok(await signIn.code.resend.isDisabled(), 'resend waits for the cool-down');
  await expectText(signIn.code.resend, /Resend code in 0:0\d/);
  await until(() => signIn.code.resend.isEnabled(), { timeout: 10_000, what: 'resend to become available' });
  await signIn.code.resend.click();
  await expectText(signIn.code.status, /new code/i);
  const second = codeIn(await nthMessageTo(user.phone.e164, 3));

  await signIn.code.type(second);
  await signIn.submit.click();
  await expectPath(page, '/dashboard');
  await new DashboardPage(page).badge('Verified').waitFor();
  await t.close();
});

test('a number without an account gets the same screen and answers, and no SMS', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await page.goto('/login?method=code');
  const signIn = new SignInWithCodePage(page);
  await signIn.heading.waitFor();
  const stranger = ukMobile();
  await signIn.start(stranger.typed);
  await expectText(signIn.step, /If .*7400.* we have sent it a 6-digit code/);
  await signIn.code.type('123456');
  await signIn.submit.click();
  await expectText(signIn.code.alert, /not right\. 4 attempts left/);
  assert.deepEqual(await messagesTo(stranger.e164), []);

  await signIn.otherNumber.click();
  await signIn.phone.waitFor();
  assert.equal(await signIn.phone.inputValue(), stranger.typed, 'the number is kept to correct it');
  await t.close();
});

test('WebOTP fills the code from the SMS and signs in; the request ends with the step', async () => {
  const t = await openPage(browser);
  const { page } = t;
  // Headless desktop Chromium gets no SMS, so the browser side of WebOTP is played by a
  // stand-in for `navigator.credentials.get` that records each request and its abort.
  await page.addInitScript(() => {
    window.OTPCredential = function OTPCredential() {};
    const otp = { calls: [] };
    window.__otp = otp;
    navigator.credentials.get = (options) => new Promise((resolve, reject) => {
      const call = { transport: options?.otp?.transport ?? null, aborted: false };
      otp.calls.push(call);
      otp.deliver = (code) => resolve({ type: 'otp', id: '', code });
      options?.signal?.addEventListener('abort', () => {
        call.aborted = true;
        reject(new DOMException('The operation was aborted.', 'AbortError'));
      });
    });
  });
  const { user, signIn } = await verifiedUserAtCodeSignIn(page);
  const before = await page.evaluate(() => window.__otp.calls.length);
  assert.ok(before >= 1, 'the signup code step asked for the SMS too');
  assert.ok(await page.evaluate(() => window.__otp.calls.every((c) => c.aborted)), 'and stopped asking when it closed');

  await signIn.start(user.phone.typed);
  await until(() => page.evaluate((n) => window.__otp.calls.length > n, before), { what: 'a WebOTP request' });
  assert.deepEqual(await page.evaluate((n) => window.__otp.calls[n].transport, before), ['sms']);
  const code = codeIn(await nthMessageTo(user.phone.e164, 2));
  await page.evaluate((c) => window.__otp.deliver(c), code);

  // Filled and sent without a key pressed.
  await expectPath(page, '/dashboard');
  await new DashboardPage(page).badge('Verified').waitFor();
  assert.ok(await page.evaluate(() => window.__otp.calls.every((c) => c.aborted)), 'no request outlives its code step');
  await t.close();
});
