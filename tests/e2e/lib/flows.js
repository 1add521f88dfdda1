// Multi-page journeys the specs build on.
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { RegisterPage } from '../pages/register.js';
import { SecurityPage } from '../pages/security.js';
import { VerificationStep } from '../pages/verification.js';
import { nthCodeTo } from './fake_twilio.js';
import { expectPath, expectText, ukMobile, uniqueEmail, until } from './harness.js';

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

/**
 * Turns two-step sign-in on from the Security page; returns the recovery codes it shows
 * (once) and leaves them dismissed.
 */
export async function turnOnTwoFactor(page, password = PASSWORD) {
  const security = new SecurityPage(page);
  await security.goto();
  await security.switch.click();
  await security.password.fill(password);
  await security.turnOn.click();
  await security.freshCodes.waitFor();
  const codes = await security.codes();
  await security.savedCodes.click();
  return codes;
}

/**
 * Signs out and in with the password, up to the two-step code step (a login within the
 * code cool-down of the last one is refused for a few seconds: the button counts down).
 */
export async function toCodeStep(page, user) {
  await new DashboardPage(page).signOut.click();
  const login = new LoginPage(page);
  await login.heading.waitFor();
  await login.email.fill(user.email);
  await login.password.fill(user.password);
  await until(async () => {
    if (await login.twoStep.isVisible()) return true;
    if (await login.submit.isEnabled()) await login.submit.click();
    return false;
  }, { timeout: 20_000, interval: 500, what: 'the two-step code step' });
  await login.twoStepCode.waitFor();
  return login;
}
