// Page object: /login — the password form, its two-step code step, and the links to
// sign in with a code and to reset a forgotten password.
import { CodeForm } from './code_form.js';

export class LoginPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Sign in', level: 1 });
    this.email = page.getByLabel('Email');
    this.password = page.getByLabel('Password', { exact: true });
    this.submit = page.getByRole('button', { name: 'Sign in', exact: true });
    this.alert = page.getByRole('alert').filter({ hasText: /\S/ });
    this.notice = page.getByRole('status').filter({ hasText: /\S/ });
    this.withCode = page.getByRole('link', { name: 'Sign in with a code' });
    this.forgot = page.getByRole('link', { name: 'Forgot password?' });
    // The code step after the password when the account has two-step sign-in on.
    this.twoStep = page.getByRole('region', { name: 'Two-step sign-in' });
    this.twoStepCode = new CodeForm(page, this.twoStep);
    this.twoStepSubmit = this.twoStep.getByRole('button', { name: 'Sign in', exact: true });
    this.newCode = this.twoStep.getByRole('button', { name: /^Send a new code/ });
    // Instead of the texted code: one of the account's recovery codes.
    this.useRecovery = this.twoStep.getByRole('button', { name: 'Use a recovery code' });
    this.useSmsCode = this.twoStep.getByRole('button', { name: 'Use the code from the SMS' });
    this.recoveryCode = this.twoStep.getByLabel('Recovery code', { exact: true });
  }

  async goto() {
    await this.page.goto('/login');
    await this.heading.waitFor();
  }

  async signIn(email, password) {
    await this.email.fill(email);
    await this.password.fill(password);
    await this.submit.click();
  }
}
