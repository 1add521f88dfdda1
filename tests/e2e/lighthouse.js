// Lighthouse scores of the public pages (run by `scripts/e2e.sh --lighthouse`): mobile form
// factor with simulated slow 4G and a 4x slower CPU (Lighthouse's defaults), Debian's
// chromium (CHROME_PATH), a fresh profile per run, against the release API serving dist/.
// Prints one line per run, the medians per page, and a final `lighthouse={json}` line;
// exits non-zero when a page's median misses its target.
//   performance >= 95, largest contentful paint <= 2.5 s, accessibility = 100
// Reports of the last run of each page go to artifacts/lighthouse-<page>.html.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';

import { ARTIFACTS, BASE_URL } from './lib/harness.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Math.max(1, Number(values.runs) || 3);
const PAGES = ['/register', '/login'];
const TARGET = { performance: 95, lcp_ms: 2500, accessibility: 100 };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function audit(url) {
  const chrome = await chromeLauncher.launch({
    chromePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const result = await lighthouse(url, {
      port: chrome.port,
      output: 'html',
      logLevel: 'error',
      onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'],
    });
    return result;
  } finally {
    await chrome.kill();
  }
}

const summary = {};
let missed = false;
for (const path of PAGES) {
  const rows = [];
  let report;
  for (let i = 1; i <= runs; i++) {
    const result = await audit(`${BASE_URL}${path}`);
    const { categories, audits } = result.lhr;
    const row = {
      performance: Math.round(categories.performance.score * 100),
      accessibility: Math.round(categories.accessibility.score * 100),
      best_practices: Math.round(categories['best-practices'].score * 100),
      seo: Math.round(categories.seo.score * 100),
      lcp_ms: Math.round(audits['largest-contentful-paint'].numericValue),
      fcp_ms: Math.round(audits['first-contentful-paint'].numericValue),
      tbt_ms: Math.round(audits['total-blocking-time'].numericValue),
      cls: Number(audits['cumulative-layout-shift'].numericValue.toFixed(3)),
      transfer_bytes: audits['total-byte-weight'].numericValue,
    };
    const failing = Object.values(audits)
      .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== 'informative'
        && a.scoreDisplayMode !== 'notApplicable' && a.scoreDisplayMode !== 'manual')
      .map((a) => a.id);
    console.log(`${path} run ${i}: performance ${row.performance}, accessibility ${row.accessibility}, `
      + `best practices ${row.best_practices}, SEO ${row.seo}; LCP ${row.lcp_ms} ms, FCP ${row.fcp_ms} ms, `
      + `TBT ${row.tbt_ms} ms, CLS ${row.cls}, ${row.transfer_bytes} B transferred`
      + (failing.length ? `; below 90: ${failing.join(', ')}` : ''));
    rows.push(row);
    report = result.report;
  }
  const page = {};
  for (const key of Object.keys(rows[0])) page[key] = median(rows.map((r) => r[key]));
  summary[path] = page;
  const name = path.replace(/\W/g, '') || 'home';
  writeFileSync(`${ARTIFACTS}lighthouse-${name}.html`, report);
  const ok = page.performance >= TARGET.performance && page.lcp_ms <= TARGET.lcp_ms
    && page.accessibility >= TARGET.accessibility;
  missed ||= !ok;
  console.log(`${path} median of ${runs}: performance ${page.performance}, LCP ${page.lcp_ms} ms, `
    + `accessibility ${page.accessibility}, best practices ${page.best_practices}, SEO ${page.seo}`
    + (ok ? '' : `  MISSED (targets: performance >= ${TARGET.performance}, LCP <= ${TARGET.lcp_ms} ms, accessibility ${TARGET.accessibility})`));
}
console.log(`lighthouse=${JSON.stringify({ runs, ...summary })}`);
process.exit(missed ? 1 : 0);
