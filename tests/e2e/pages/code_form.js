// Page object: a code step (six boxes, attempts left, resend) inside `region`; shared by
// sign-in with a code, password reset, the two-step sign-in code and the security page.
export class CodeForm {
  constructor(page, region) {
    this.page = page;
    this.region = region;
    this.group = region.getByRole('group', { name: 'Verification code' });
    this.firstBox = region.getByLabel('Verification code digit 1 of 6');
    this.resend = region.getByRole('button', { name: /^(Resend code|Send a new code)/ });
    this.alert = region.getByRole('alert').filter({ hasText: /\S/ });
    this.status = region.getByRole('status').filter({ hasText: /\S/ });
  }

  async waitFor() {
    await this.firstBox.waitFor();
  }

  /** Types the code key by key from the first box (auto-advance moves along). */
  async type(code) {
    await this.firstBox.click();
    await this.page.keyboard.type(code);
  }

  /** The six boxes' values joined. */
  async value() {
    const boxes = this.group.getByRole('textbox');
    return (await boxes.evaluateAll((els) => els.map((e) => e.value))).join('');
  }

  /** Every box's `autocomplete` and `inputmode` (the first box carries `one-time-code`). */
  async attributes() {
    return this.group.getByRole('textbox').evaluateAll((els) => els.map((e) => ({
      autocomplete: e.getAttribute('autocomplete'),
      inputmode: e.getAttribute('inputmode'),
    })));
  }
}

/** A six-digit code that is certainly not `code`. */
export function wrongCode(code) {
  return code.split('').map((d) => String((Number(d) + 1) % 10)).join('');
}
