// Multi-page journeys the specs build on.
import { DashboardPage } from '../pages/dashboard.js';
import { RegisterPage } from '../pages/register.js';
import { VerificationStep } from '../pages/verification.js';
import { nthCodeTo } from './fake_twilio.js';
import { expectPath, expectText, ukMobile, uniqueEmail } from './harness.js';

export const PASSWORD = 'correct horse battery';

/** Fills and submits the signup form; resolves once the next screen is on its way. */
export async function signUp(page, { withPhone = true, fullName = 'Ada Lovelace' } = {}) {
  const user = { fullName, email: uniqueEmail(), password: PASSWORD, phone: withPhone ? ukMobile() : null };
  const register = new RegisterPage(page);
  await register.goto();
  await register.fill({ ...user, phone: user.phone?.typed, country: user.phone ? 'GB' : undefined });
  if (user.phone) {
    // The server's parser confirms the number as it is typed.
    await expectText(page.locator('[id="phone-status"]'), /Mobile number: \+44 7400/);
  }
  await register.submit.click();
  return user;
}

/** Signs up with a phone and verifies it with the code the fake Twilio received. */
export async function signUpVerified(page) {
  const user = await signUp(page, { withPhone: true });
  const step = new VerificationStep(page);
  await step.waitFor();
  await step.enter(await nthCodeTo(user.phone.e164, 1));
  await expectPath(page, '/dashboard');
  await expectText(new DashboardPage(page).widget, /Verified/);
  return user;
}
