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
