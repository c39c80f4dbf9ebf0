// Drives Larder's web page in headless Chromium (Debian's /usr/bin/chromium through npm's playwright-core):
//   node webpage.mjs URL USER PASSWORD SCREENSHOT KEY
// Prints one JSON object: console errors, landmarks found, whether KEY was found by prefix and deleted.
import { createRequire } from 'node:module';
const require = createRequire(process.env.LARDER_CI_NPM + '/node_modules/');
const { chromium } = require('playwright-core');

const [url, user, password, screenshot, key] = process.argv.slice(2);
const result = { consoleErrors: [], landmarks: {}, found: false, detail: null, deleted: false, loadMs: null };
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ httpCredentials: { username: user, password }, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => result.consoleErrors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  const t0 = Date.now();
  await page.goto(url + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('entries-count').textContent !== '–', null, { timeout: 20000 });
  result.loadMs = Date.now() - t0;
  for (const [name, selector] of Object.entries({ title: 'header h1', overview: '#overview', charts: '#chart-hits',
    entries: '#entry-table', maintenance: '#actions' })) {
    result.landmarks[name] = await page.locator(selector).isVisible();
  }
  result.title = await page.locator('header h1').textContent();
  result.version = await page.locator('#version').textContent();
  result.entriesCount = await page.locator('#entries-count').textContent();
  const prefix = key.slice(0, key.indexOf(':') + 1);
  await page.fill('#prefix', prefix);
  await page.click('#search button');
  const row = page.locator('#entry-rows tr', { hasText: key });
  await row.first().waitFor({ timeout: 10000 });
  result.found = (await row.count()) === 1;
  await row.first().locator('td.key').click(); // the row's middle is a border between two cells
  await page.locator('#detail').waitFor({ state: 'visible' });
  result.detail = await page.locator('#detail-fields').textContent();
  await page.click('#verify');
  await page.waitForFunction(() => document.getElementById('action-output').textContent.includes('verify done'),
    null, { timeout: 30000 });
  result.verifyOutput = await page.locator('#action-output').textContent();
  result.progressFull = await page.evaluate(() => { const p = document.getElementById('job-progress'); return !p.hidden && p.value === p.max; });
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.click('#delete');
  await row.first().waitFor({ state: 'detached', timeout: 10000 });
  result.deleted = true;
} catch (e) {
  result.failure = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
