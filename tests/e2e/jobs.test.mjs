// Browser tests of jobs that outlive the page (issue 16): a reload mid-job reconnects to the
// job's events and the video still arrives; a tab closed mid-job shows the true state when
// reopened; an expired video says so in plain words with the retention on the page; a
// recording over the server's limit is offered "use the first N minutes" (sends duration)
// instead of being uploaded to fail; the wait estimate comes from the server's own runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  launchServer, stopServer, launchBrowser, makeMedia, openPage, waitReady, setRange, resultDuration, captureGenerate,
  waitJob, generateSmall, shot, cleanup, fixtures, work,
} from './harness.mjs';

let server, browser, files;

before(async () => {
  files = makeMedia('jobs');
  server = await launchServer('jobs', ['--workers', '1']);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(server);
  cleanup();
});

// Starts a 64 s job at the smallest size and resolves once it runs (progress above 0). Each
// caller gives its own variation number: the same request again would be a cache hit.
async function startLongJob(page, seed) {
  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.longSpeech);
  await page.click('#advanced summary');
  await setRange(page, '#param-min_resolution', 256);
  await page.fill('#param-seed', String(seed));
  await page.dispatchEvent('#param-seed', 'change');
  await page.click('#generate-button');
  await page.waitForFunction(() => Number(document.getElementById('progress-bar').value) > 0, null, { timeout: 120000 });
  return page.evaluate(() => localStorage.getItem('sonic.active'));
}

test('the wait estimate: none before the first video, then one from the server\'s own run times', async () => {
  const { page, context } = await openPage(browser, server.url);
  assert.match(await page.textContent('#estimate'), /no time estimate yet/);
  assert.match(await page.textContent('#estimate'), /No one else is waiting/);
  await generateSmall(page, files.portrait, files.speech);
  await page.waitForFunction(() => /should be ready in about \d+ s/.test(document.getElementById('estimate').textContent));
  // A longer recording is estimated to take at least as long.
  const seconds = async () => {
    const text = await page.textContent('#estimate');
    const m = text.match(/about (\d+) (s|minutes?)\b/);
    assert.ok(m, text);
    return Number(m[1]) * (m[2] === 's' ? 1 : 60);
  };
  const short = await seconds();
  await page.setInputFiles('#audio-input', files.longSpeech);
  await page.waitForFunction(() => /1 min 4 s/.test(document.getElementById('audio-name').textContent));
  assert.ok((await seconds()) >= short, 'longer recording, longer wait');
  await context.close();
});

test('a reload mid-job reconnects to its progress, and the video still arrives', async () => {
  const { page, context, problems } = await openPage(browser, server.url);
  const id = await startLongJob(page, 1);
  assert.match(id, /^[0-9a-f-]{36}$/, 'the job in progress is remembered');
  await page.reload();
  await waitReady(page);
  // Reconnected: the progress is shown again and keeps moving, without a new upload.
  await page.waitForSelector('#progress-panel:not([hidden])', { timeout: 10000 });
  assert.equal(await page.isVisible('#cancel-button'), true, 'the job can still be canceled');
  const after = Number(await page.getAttribute('#progress-bar', 'value'));
  await page.waitForFunction((v) => Number(document.getElementById('progress-bar').value) > v, after, { timeout: 120000 });
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 300000 });
  assert.ok((await resultDuration(page)) > 60, 'the whole recording was animated');
  const row = page.locator(`#history li[data-job="${id}"]`);
  await row.locator('.state', { hasText: 'Ready' }).waitFor();
  await row.locator('img.thumb').waitFor({ timeout: 30000 });
  assert.match(await row.locator('img.thumb').getAttribute('src'), /^data:image\/jpeg;base64,/, 'a first-frame thumbnail');
  assert.equal(await page.evaluate(() => localStorage.getItem('sonic.active')), null, 'nothing left in progress');
  await shot(page, 'desktop-after-reload.png');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a tab closed mid-job shows the job\'s true state when the page is opened again', async () => {
  const { page, context } = await openPage(browser, server.url);
  const id = await startLongJob(page, 2);
  await page.close();
  await waitJob(server.url, id, (job) => job.status === 'succeeded');
  const again = await context.newPage();
  await again.goto(server.url + '/');
  await waitReady(again);
  await again.waitForSelector('#result-panel:not([hidden])', { timeout: 30000 });
  const row = again.locator(`#history li[data-job="${id}"]`);
  await row.locator('.state', { hasText: 'Ready' }).waitFor();
  assert.equal(await again.isHidden('#progress-panel'), true);
  await context.close();
});

test('a tab left open shows a job started in another tab, and follows it to "Ready" after that tab closes', async () => {
  const { page: watcher, context } = await openPage(browser, server.url);
  const starter = await context.newPage();
  await starter.goto(server.url + '/');
  await waitReady(starter);
  const id = await startLongJob(starter, 3);
  const row = watcher.locator(`#history li[data-job="${id}"]`);
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.locator('.state').textContent(), /Being made|Waiting/);
  await starter.close();
  await row.locator('.state', { hasText: 'Ready' }).waitFor({ timeout: 300000 });
  await context.close();
});

test('zh-CN: an expired video says so in plain words, and the retention is on the page', async () => {
  const short = await launchServer('expiring', ['--retention-h', '0.001', '--janitor-interval-s', '1']);
  try {
    const { page, context } = await openPage(browser, short.url, { locale: 'zh-CN' });
    assert.match(await page.textContent('#retention-note'), /服务器上的视频保留 3(\.\d)? 秒/);
    await generateSmall(page, files.portrait, files.speech);
    const id = await page.evaluate(() => JSON.parse(localStorage.getItem('sonic.history'))[0].id);
    await waitJob(short.url, id, (job) => job.output_expired === true, 60000);
    await page.reload();
    await waitReady(page);
    const row = page.locator(`#history li[data-job="${id}"]`);
    await page.waitForSelector(`#history li[data-job="${id}"][data-status="expired"]`, { timeout: 30000 });
    assert.equal(await row.locator('.state').textContent(), '已过期');
    assert.match(await row.locator('.history-note').textContent(), /服务器上已不再保存这个视频/);
    assert.equal(await row.locator('button.open').count(), 0, 'nothing to open');
    await shot(page, 'zh-desktop-expired.png');
    await context.close();
  } finally {
    await stopServer(short);
  }
});

// Needs the server to use only the first `duration` seconds of a longer recording (issue 10).
test('too long: "use the first 1 minute" instead of an upload that fails, and a one-minute video', async () => {
  const limited = await launchServer('minute', ['--max-audio-s', '60']);
  try {
    const long = path.join(work, 'speech_78s.wav');
    execFileSync('sox', [path.join(fixtures, 'speech_en_7s.wav'), long, 'repeat', '10']);
    const { page, context } = await openPage(browser, limited.url);
    await page.setInputFiles('#image-input', files.portrait);
    await page.setInputFiles('#audio-input', long);
    await page.waitForSelector('#length-notice:not([hidden])');
    assert.match(await page.textContent('#length-text'), /1 min 18 s long.*up to 1 min/);
    assert.equal(await page.textContent('#use-first'), 'Use the first 1 minute');
    // Generate first: nothing is uploaded; the choice is put in front of the person.
    let uploads = 0;
    page.on('request', (r) => { if (r.url().endsWith('/api/sonic/generate')) uploads += 1; });
    await page.click('#generate-button');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'use-first');
    assert.match(await page.textContent('#live-alert'), /up to 1 min/);
    assert.equal(uploads, 0);
    await page.click('#use-first');
    assert.match(await page.textContent('#length-text'), /Only the first 1 minute will be used/);
    await shot(page, 'desktop-too-long.png');
    await page.click('#advanced summary');
    // The Length setting says the same thing in its own way, and both stay in step.
    assert.equal(await page.getAttribute('#param-duration', 'max'), '60');
    await setRange(page, '#param-duration', 45);
    assert.match(await page.textContent('#length-text'), /Only the first 45 s will be used/);
    await page.click('#param-duration-whole');
    assert.equal(await page.isVisible('#use-first'), true, 'the whole recording is over the limit again');
    await page.click('#use-first');
    await setRange(page, '#param-min_resolution', 256);
    await setRange(page, '#param-fps', 10);
    const { sent } = await captureGenerate(page);
    await page.click('#generate-button');
    const { config } = await sent;
    assert.equal(config.duration, 60, 'the request asks for the first minute');
    await page.waitForSelector('#result-panel:not([hidden]), #error-panel:not([hidden])', { timeout: 300000 });
    assert.equal(await page.isVisible('#error-panel'), false,
      `the server refused: ${await page.textContent('#error-title')} (needs issue 10: duration within the limit)`);
    const duration = await resultDuration(page);
    assert.ok(Math.abs(duration - 60) < 0.5, `a one-minute video, got ${duration}`);
    await context.close();
  } finally {
    await stopServer(limited);
  }
});
