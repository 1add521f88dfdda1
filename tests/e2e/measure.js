// Time-to-dashboard figures for the benchmark (run by `scripts/e2e.sh --measure`).
// Each run uses a fresh browser context (empty cache, no cookies) against the release API:
//   first_load_bytes     bytes the browser received (headers and bodies as sent, i.e.
//                        compressed) for every request of that first screen
//   first_screen_ms      navigation to /login until the "Sign in" button is usable
//   time_to_dashboard_ms same start, sign in as a verified user, until the dashboard's
//                        phone widget shows the Verified badge
//   reload_dashboard_ms  reload of /dashboard (session restored from the refresh cookie,
//                        warm cache) until the Verified badge
// Prints one line per run, the medians, and a final `e2e_measure={json}` line.
import { parseArgs } from 'node:util';

import { signUpVerified } from './lib/flows.js';
import { launch, openPage } from './lib/harness.js';
import { DashboardPage } from './pages/dashboard.js';
import { LoginPage } from './pages/login.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Number(values.runs) || 5);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
};

const browser = await launch();
try {
  const setup = await openPage(browser);
  const user = await signUpVerified(setup.page);
  await setup.close();

  const results = { first_load_bytes: [], first_screen_ms: [], time_to_dashboard_ms: [], reload_dashboard_ms: [] };
  for (let i = 1; i <= runs; i++) {
    const t = await openPage(browser);
    const { page } = t;
    const login = new LoginPage(page);
    const dashboard = new DashboardPage(page);
    // Sizes as received: playwright reports the encoded body, so brotli counts as brotli.
    const received = [];
    const onFinished = (request) => received.push(request.sizes().then((sz) => ({
      url: new URL(request.url()).pathname,
      encoding: '',
      bytes: sz.responseHeadersSize + sz.responseBodySize,
    })).then(async (entry) => {
      const response = await request.response();
      entry.encoding = (await response?.headerValue('content-encoding')) ?? '';
      return entry;
    }));
    page.on('requestfinished', onFinished);
    const start = performance.now();
    await page.goto('/login');
    await login.submit.waitFor();
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll('button')].find((e) => e.textContent.trim() === 'Sign in');
      return b && !b.disabled;
    });
    const firstScreen = performance.now() - start;
    page.off('requestfinished', onFinished);
    const files = await Promise.all(received);
    const firstLoad = files.reduce((sum, f) => sum + f.bytes, 0);
    if (i === 1) {
      for (const f of files) console.log(`  ${f.url.padEnd(48)} ${String(f.bytes).padStart(8)} B ${f.encoding || 'identity'}`);
    }
    await login.signIn(user.email, user.password);
    await dashboard.badge('Verified').waitFor();
    const toDashboard = performance.now() - start;

    const reloadStart = performance.now();
    await page.reload();
    await dashboard.badge('Verified').waitFor();
    const reload = performance.now() - reloadStart;
    await t.close();

    results.first_load_bytes.push(firstLoad);
    results.first_screen_ms.push(Math.round(firstScreen));
    results.time_to_dashboard_ms.push(Math.round(toDashboard));
    results.reload_dashboard_ms.push(Math.round(reload));
    console.log(`run ${i}: first load ${firstLoad} B, first screen ${Math.round(firstScreen)} ms, time to dashboard ${Math.round(toDashboard)} ms, reload ${Math.round(reload)} ms`);
  }
  const summary = { runs };
  for (const [k, xs] of Object.entries(results)) {
    summary[`${k}_median`] = median(xs);
    summary[k] = xs;
  }
  console.log(`median: first load ${summary.first_load_bytes_median} B (${Math.round(summary.first_load_bytes_median / 1024)} KB) on the wire, first screen ${summary.first_screen_ms_median} ms, time to dashboard ${summary.time_to_dashboard_ms_median} ms, reload ${summary.reload_dashboard_ms_median} ms`);
  console.log(`e2e_measure=${JSON.stringify(summary)}`);
} finally {
  await browser.close();
}
