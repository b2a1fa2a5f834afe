// Opens one page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), waits for the Smart Pixel's requests to the relay, and
// prints what the browser saw as one JSON object on stdout.
//
// Usage: node pixel.mjs '{"url": "https://127.0.0.1:PORT/pixel.html",
//                         "relay": "/analytics", "expect": 1, "timeoutMs": 20000,
//                         "locale": "de-DE"}'
// (locale optional: the browser's language, and so its Accept-Language)
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2] || '{}');
const relay = config.relay || '/analytics';
const expect = config.expect || 1;
const timeoutMs = config.timeoutMs || 20000;

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--ignore-certificate-errors', '--no-proxy-server',
];

const t0 = Date.now();
const out = { requests: [], responses: [], failed: [], console: [], errors: [], timing: {} };
const mark = (what) => { out.timing[what] = Date.now() - t0; };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ARGS,
  timeout: 60000,
});
mark('launched');
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...(config.locale ? { locale: config.locale } : {}) });
  const page = await context.newPage();
  const isRelay = (url) => new URL(url).pathname.startsWith(relay);
  // The relay requests with the headers Chromium really sent (client hints, language).
  const sent = [];
  page.on('request', (r) => {
    const entry = { url: r.url(), method: r.method(), type: r.resourceType() };
    out.requests.push(entry);
    if (isRelay(r.url())) sent.push(r.allHeaders().then((h) => { entry.headers = h; }, () => {}));
  });
  page.on('requestfailed', (r) => out.failed.push({ url: r.url(), error: r.failure()?.errorText }));
  page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => out.errors.push(String(e)));
  let relayed = 0;
  const done = new Promise((resolve) => {
    page.on('response', async (r) => {
      if (!isRelay(r.url())) return;
      const headers = await r.allHeaders().catch(() => ({}));
      out.responses.push({ url: r.url(), status: r.status(), headers });
      if (++relayed >= expect) resolve();
    });
  });
  await page.goto(config.url, { waitUntil: 'load', timeout: timeoutMs });
  mark('loaded');
  let timer;
  await Promise.race([done, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
  clearTimeout(timer);
  mark('relayed');
  await Promise.all(sent);
  await page.waitForTimeout(300);  // let the browser store the cookies of the last answer
  out.userAgent = await page.evaluate(() => navigator.userAgent);
  out.pixelVersion = await page.evaluate(() => (window.wtSmart && window.wtSmart.version) || null);
  out.documentCookie = await page.evaluate(() => document.cookie);
  out.cookies = await context.cookies(config.url);
} catch (e) {
  out.errors.push(`pixel.mjs: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close();
  mark('closed');
}
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
