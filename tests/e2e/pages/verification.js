// Page object: the "Verify your phone number" step (signup, dashboard, management page).
export class VerificationStep {
  constructor(page) {
    this.page = page;
    this.region = page.getByRole('region', { name: 'Verify your phone number' });
    this.firstBox = this.region.getByLabel('Verification code digit 1 of 6');
    this.verify = this.region.getByRole('button', { name: 'Verify', exact: true });
    this.resend = this.region.getByRole('button', { name: /^Resend code/ });
    this.changeNumber = this.region.getByRole('button', { name: 'Change number' });
    this.skip = this.region.getByRole('button', { name: 'Skip for now' });
    this.alert = this.region.getByRole('alert');
    this.status = this.region.getByRole('status');
    // What became of the code's SMS, live (status, guidance, error, opt-out).
    this.delivery = this.region.getByRole('region', { name: 'Code delivery' });
    // After the right code for a number verified on another account (409 phone-taken).
    this.signInWithCode = this.region.getByRole('link', { name: 'Sign in with a code' });
  }

  async waitFor() {
    await this.firstBox.waitFor();
  }

  /** Types the code key by key from the first box (auto-advance moves along). */
  async type(code) {
    await this.firstBox.click();
    await this.page.keyboard.type(code);
  }

  /** Pastes the code into the first box, as from the clipboard. */
  async paste(code) {
    await this.firstBox.evaluate((input, text) => {
      const data = new DataTransfer();
      data.setData('text', text);
      input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, code);
  }

  /** The six boxes' values joined. */
  async value() {
    const boxes = this.region.getByRole('group', { name: 'Verification code' }).getByRole('textbox');
    return (await boxes.evaluateAll((els) => els.map((e) => e.value))).join('');
  }

  async enter(code) {
    await this.type(code);
    await this.verify.click();
  }
}
