// Opens the inspector's HTML page (SetHandler mapptrack-inspect) in headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core), waits for its
// hits to be rendered, and prints what the browser rendered as one JSON object on
// stdout: per hit (<section>) the heading, the arrival line, the visitor line, the
// flagged rules and the cells of both tables, read from the DOM (innerText), not
// from the HTML source.
//
// Usage: node inspector.mjs '{"url": "http://127.0.0.1:PORT/inspect/",
//                             "javaScript": true, "expectHits": 2,
//                             "timeoutMs": 20000, "canary": true}'
//   javaScript  false: a context with javaScriptEnabled: false (the page must not
//               need it; the driver's evaluate still reads the DOM);
//               contextRunsScripts says whether a page's own script ran there
//   expectHits  wait until at least this many hits are rendered
//   canary      after reading, raise an alert in the page (from the driver), to
//               show that the dialog listener would have seen one (JavaScript on)
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2] || '{}');
const timeoutMs = config.timeoutMs || 20000;
const javaScript = config.javaScript !== false;
const expectHits = config.expectHits || 1;

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-proxy-server',
];

const out = {
  javaScript, requests: [], failed: [], console: [], errors: [], dialogs: [], canaryDialog: null,
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ARGS,
  timeout: 60000,
});
try {
  const context = await browser.newContext({ javaScriptEnabled: javaScript });
  const page = await context.newPage();
  let canary = false;
  let canarySeen;
  const canaryDialog = new Promise((resolve) => { canarySeen = resolve; });
  page.on('dialog', async (d) => {
    if (canary) {
      out.canaryDialog = { type: d.type(), message: d.message() };
      canarySeen();
    } else {
      out.dialogs.push({ type: d.type(), message: d.message() });
    }
    await d.dismiss().catch(() => {});
  });
  page.on('request', (r) => out.requests.push({ url: r.url(), type: r.resourceType() }));
  page.on('requestfailed', (r) => out.failed.push({ url: r.url(), error: r.failure()?.errorText }));
  page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => out.errors.push(String(e)));

  const response = await page.goto(config.url, { waitUntil: 'load', timeout: timeoutMs });
  out.status = response ? response.status() : null;
  const headers = response ? await response.allHeaders() : {};
  out.contentType = headers['content-type'] || null;
  out.csp = headers['content-security-policy'] || null;
  // The hits are in the page as it was served: wait for their tables to be laid out.
  await page.waitForSelector('section table tr td', { state: 'visible', timeout: timeoutMs });
  out.sections = await page.$$eval('section', (sections) => sections.map((s) => {
    const text = (el) => (el ? el.innerText : null);
    const rows = (table) => (table ? [...table.querySelectorAll('tr')]
      .filter((tr) => tr.querySelector('td'))
      .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText)) : []);
    const paragraphs = [...s.querySelectorAll(':scope > p')];
    const visitor = paragraphs.find((p) => p.innerText.startsWith('Visitor:')) || null;
    const tables = s.querySelectorAll(':scope > table');
    const violations = [...s.querySelectorAll(':scope > ul.bad > li')].map((li) => li.innerText);
    return {
      heading: text(s.querySelector('h2')),
      received: text(s.querySelector(':scope > p.meta')),
      visitor: text(visitor),
      everId: visitor ? text(visitor.querySelector('b')) : null,
      ok: text(s.querySelector(':scope > p.ok')),
      violations,
      rules: violations.map((v) => v.split(':')[0]),
      pageHeader: tables[0] ? [...tables[0].querySelectorAll('th')].map((th) => th.innerText) : [],
      pageFields: rows(tables[0]),
      paramHeader: tables[1] ? [...tables[1].querySelectorAll('th')].map((th) => th.innerText) : [],
      params: rows(tables[1]),
      line: text(s.querySelector(':scope > p > code')),
      visible: s.getBoundingClientRect().height > 0,
    };
  }));
  if (out.sections.length < expectHits) {
    out.errors.push(`inspector.mjs: ${out.sections.length} hit(s) rendered, ${expectHits} expected`);
  }
  out.title = await page.title();
  out.scripts = await page.$$eval('script', (els) => els.length);
  out.elementsWithHandlers = await page.$$eval('*', (els) => els
    .filter((el) => [...el.attributes].some((a) => a.name.toLowerCase().startsWith('on')))
    .map((el) => el.outerHTML.slice(0, 200)));
  out.images = await page.$$eval('img', (els) => els.length);
  out.bodyText = await page.$eval('body', (b) => b.innerText);
  // Whether this context runs a page's scripts at all (a control for javaScript: false):
  // a page of its own, with one inline script.
  const probe = await context.newPage();
  await probe.setContent('<!DOCTYPE html><body><script>document.body.dataset.ran = "1";</script></body>');
  out.contextRunsScripts = await probe.evaluate(() => document.body.dataset.ran === '1');
  await probe.close();
  if (config.canary && javaScript) {
    // A script of the page itself raising a dialog must be seen: the "no dialog"
    // above is not the listener being deaf.
    canary = true;
    // (from the driver's side: the page's Content-Security-Policy blocks inline scripts)
    await page.evaluate(() => { setTimeout(() => alert('canary'), 0); })
      .catch((e) => out.errors.push(`canary: ${e}`));
    let timer;
    await Promise.race([canaryDialog, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
  }
} catch (e) {
  out.errors.push(`inspector.mjs: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
