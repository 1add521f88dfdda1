// A local stand-in for Cloudflare Turnstile's api.js (no CDN is reachable in the browser
// tests): the same surface the SPA uses, `turnstile.render(element, {sitekey, callback})`
// -> widget id, and `turnstile.remove(id)`. Its "widget" is a button; a click calls back
// with a token the fake siteverify (crates/fake-captcha) accepts: `pass-…`.
(() => {
  let next = 0;
  const widgets = new Map();
  window.turnstile = {
    render(element, options) {
      const id = `stand-in-${next += 1}`;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'btn';
      button.textContent = "I'm a person (test stand-in)";
      button.dataset.sitekey = options.sitekey;
      button.addEventListener('click', () => {
        options.callback(`pass-${Math.random().toString(36).slice(2)}`);
      });
      element.appendChild(button);
      widgets.set(id, button);
      return id;
    },
    remove(id) {
      widgets.get(id)?.remove();
      widgets.delete(id);
    },
  };
})();
