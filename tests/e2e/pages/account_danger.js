// Page object: the security page's "Recent activity" list and its "Delete account" card
// (SPEC §12).
export class AccountCards {
  constructor(page) {
    this.page = page;
    this.activity = page.getByRole('region', { name: 'Recent activity' });
    this.activityItems = this.activity.getByRole('list', { name: 'Recent activity' }).getByRole('listitem');
    this.deleteCard = page.getByRole('region', { name: 'Delete account', exact: true });
    this.openDelete = this.deleteCard.getByRole('button', { name: 'Delete account' });
    this.confirm = page.getByRole('region', { name: 'Delete your account?' });
    this.password = this.confirm.getByLabel('Password', { exact: true });
    this.deleteNow = this.confirm.getByRole('button', { name: 'Delete my account' });
    this.cancel = this.confirm.getByRole('button', { name: 'Cancel' });
  }

  /** The activity lines on screen, as text. */
  async activityTexts() {
    return (await this.activityItems.allInnerTexts()).map((t) => t.trim());
  }
}
