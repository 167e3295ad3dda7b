// Browser tests of the web page (issues 6 and 16): the real sonic-server binary on a free
// loopback port, the real page in Debian's Chromium driven by playwright-core. The flows a
// person goes through in English; Chinese, jobs across reloads, keyboard and accessibility
// have their own files. Screenshots at desktop and phone width land in tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  launchServer, stopServer, launchBrowser, makeMedia, openPage as open, waitReady, setRange, resultDuration,
  shot, cleanup, binary, work,
} from './harness.mjs';

let server, baseUrl, browser, files;

before(async () => {
  files = makeMedia('web');
  server = await launchServer('main', ['--max-upload-mb', '3']);
  baseUrl = server.url;
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(server);
  cleanup();
});

const openPage = (viewport) => open(browser, baseUrl, viewport ? { viewport } : {});

test('happy path: preset, live progress, the video plays and downloads', async () => {
  const { page, context, problems } = await openPage();
  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.speech);
  await page.waitForSelector('#image-preview:not([hidden])');
  await page.click('.preset[data-preset="news-anchor"]');
  assert.equal(await page.isChecked('#preset-news-anchor'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'preset-news-anchor', 'focus stays on the chosen style');
  await page.click('#advanced summary');
  await setRange(page, '#param-min_resolution', 256);
  assert.match(await page.textContent('.param[data-param="min_resolution"] output'), /256 px/);
  await shot(page, 'desktop-ready.png');

  const seen = [];
  await page.exposeFunction('recordProgress', (v) => seen.push(v));
  await page.evaluate(() => {
    const bar = document.getElementById('progress-bar');
    new MutationObserver(() => window.recordProgress(Number(bar.value))).observe(bar, { attributes: true });
  });
  await page.click('#generate-button');
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
  assert.ok((await resultDuration(page)) > 1.5, 'video has the recording\'s length');
  assert.ok(seen.some((v) => v > 0 && v < 1), `progress advanced through intermediate values: ${seen}`);
  const played = await page.evaluate(async () => {
    const v = document.getElementById('result-video');
    v.muted = true;
    await v.play();
    await new Promise((r) => setTimeout(r, 600));
    return v.currentTime;
  });
  assert.ok(played > 0, 'the video plays');
  const download = await page.getAttribute('#download-link', 'download');
  assert.match(download, /portrait-talking-.*\.mp4$/);
  await page.waitForFunction(() => /Ready/.test(document.getElementById('history').textContent));
  await shot(page, 'desktop-result.png');

  // The history survives a reload and re-opens the finished video.
  await page.reload();
  await waitReady(page);
  await page.click('#history li button.open');
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 30000 });
  assert.match(await page.getAttribute('#result-video', 'src'), /\/output\//);
  assert.deepEqual(problems, []);
  await context.close();
});

test('no face: plain-words error, the picture is kept and a face box can be marked', async () => {
  const { page, context } = await openPage();
  await page.setInputFiles('#image-input', files.flat);
  await page.setInputFiles('#audio-input', files.speech);
  await page.click('#generate-button');
  await page.waitForSelector('#error-panel:not([hidden])', { timeout: 120000 });
  assert.match(await page.textContent('#error-title'), /No face/);
  assert.equal(await page.isVisible('#image-preview'), true, 'the chosen picture is still shown');
  assert.match(await page.textContent('#live-alert'), /No face/, 'the error is announced');
  await page.click('#error-mark-face');
  assert.ok(await page.$('#image-wrap.marking'), 'face marking is on');
  assert.equal(await page.isVisible('#face-box-overlay'), true, 'a box starts on the picture');
  await page.locator('#image-thumb').scrollIntoViewIfNeeded();
  const box = await page.locator('#image-thumb').boundingBox();
  await page.mouse.move(box.x + 20, box.y + 20);
  await page.mouse.down();
  await page.mouse.move(box.x + 120, box.y + 140, { steps: 5 });
  await page.mouse.up();
  const marked = await page.getAttribute('#face-box-overlay', 'aria-label');
  assert.match(marked, /Face box: \d+% from the left/);
  // Drawn at 100x120 display pixels from (20, 20): the same share of the 320x240 picture.
  const [x, y, w, h] = await page.evaluate(() => {
    const o = document.getElementById('face-box-overlay').style;
    return [o.left, o.top, o.width, o.height].map(parseFloat);
  });
  const scale = 100 / box.width;
  assert.ok(Math.abs(x - 20 * scale) < 2 && Math.abs(w - 100 * scale) < 2, `box ${x},${y},${w},${h}`);
  await shot(page, 'desktop-no-face.png');
  await context.close();
});

test('too large and unsupported files get plain-words errors', async () => {
  const { page, context } = await openPage();
  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.big);
  await page.click('#generate-button');
  await page.waitForSelector('#error-panel:not([hidden])', { timeout: 60000 });
  assert.match(await page.textContent('#error-title'), /too big/);
  // Known before sending: the page read the server's limit from /api/limits.
  assert.match(await page.textContent('#error-hint'), /at most 3\.0 MB/);

  await page.setInputFiles('#image-input', files.text);
  await page.setInputFiles('#audio-input', files.speech);
  await page.click('#generate-button');
  await page.waitForFunction(() => /not a picture/.test(document.getElementById('error-title').textContent), null, { timeout: 60000 });
  assert.equal(await page.isVisible('#audio-preview'), true, 'the recording stays chosen');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'image-input', 'focus goes to the photo at fault');
  assert.ok(await page.$('#image-drop.invalid'), 'the photo is marked');
  await context.close();
});

test('cancel stops a running job', async () => {
  const { page, context } = await openPage();
  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.longSpeech);
  await page.click('#generate-button');
  await page.waitForSelector('#cancel-button:not([hidden])');
  await page.waitForFunction(() => Number(document.getElementById('progress-bar').value) > 0, null, { timeout: 120000 });
  await page.click('#cancel-button');
  await page.waitForFunction(() => /Canceled/.test(document.getElementById('notice-text').textContent)
      && !document.getElementById('notice-panel').hidden, null, { timeout: 60000 });
  assert.equal(await page.isHidden('#result-panel'), true);
  assert.equal(await page.isHidden('#error-panel'), true, 'a cancel is not shown as an error');
  assert.equal(await page.textContent('#live-alert'), '', 'nothing is announced as an alert');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'generate-button');
  await context.close();
});

test('microphone: a recording becomes a WAV the page can send', async () => {
  const { page, context } = await openPage();
  await context.grantPermissions(['microphone'], { origin: baseUrl });
  await page.click('#record-button');
  await page.waitForFunction(() => /speak now/.test(document.getElementById('record-status').textContent), null, { timeout: 10000 });
  await page.waitForTimeout(1200);
  await page.click('#record-button');
  await page.waitForSelector('#audio-preview:not([hidden])', { timeout: 15000 });
  assert.match(await page.textContent('#audio-name'), /recording\.wav/);
  const header = await page.evaluate(async () => {
    const src = document.getElementById('audio-player').src;
    const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
    return String.fromCharCode(...bytes.slice(0, 4)) + String.fromCharCode(...bytes.slice(8, 12)) + ':' + bytes.length;
  });
  assert.match(header, /^RIFFWAVE:\d+$/);
  assert.ok(Number(header.split(':')[1]) > 44 + 2 * 8000, 'about a second of sound was recorded');
  await context.close();
});

test('dark mode follows the system setting and keeps text readable', async () => {
  const { page, context } = await open(browser, baseUrl, { colorScheme: 'dark' });
  const [bg, fg] = await page.evaluate(() => {
    const style = getComputedStyle(document.body);
    return [style.backgroundColor, style.color];
  });
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/\d+/g).slice(0, 3).map(Number).map((c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  assert.ok(luminance(bg) < 0.05, `dark background, got ${bg}`);
  const contrast = (luminance(fg) + 0.05) / (luminance(bg) + 0.05);
  assert.ok(contrast >= 7, `text contrast ${contrast.toFixed(1)}:1`);
  await shot(page, 'desktop-dark.png');
  await context.close();
});

test('with auth on: the token field signs requests in and the signed video URL plays', async () => {
  const secretFile = path.join(work, 'jwt.secret');
  fs.writeFileSync(secretFile, 'e2e-secret-that-is-long-enough-for-hs256-0123456789');
  const auth = await launchServer('auth', ['--auth', 'jwt', '--jwt-secret-file', secretFile]);
  try {
    const token = execFileSync(binary, ['token', '--sub', 'teacher', '--ttl', '1h', '--secret-file', secretFile]).toString().trim();
    const { page, context } = await open(browser, auth.url);
    await page.setInputFiles('#image-input', files.portrait);
    await page.setInputFiles('#audio-input', files.speech);
    await page.click('#advanced summary');
    await setRange(page, '#param-min_resolution', 256);

    await page.click('#generate-button');  // no token yet: refused in plain words
    await page.waitForSelector('#error-panel:not([hidden])', { timeout: 60000 });
    assert.match(await page.textContent('#error-title'), /Sign-in needed/);

    await page.click('#settings summary');
    await page.fill('#token-input', token);
    await page.dispatchEvent('#token-input', 'change');
    await page.click('#generate-button');
    await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
    const src = await page.getAttribute('#result-video', 'src');
    assert.match(src, /[?&]sig=[0-9a-f]+/, 'the video URL is signed');
    assert.ok((await resultDuration(page)) > 1.5, 'the signed video plays without a header');
    assert.equal(await page.evaluate(() => localStorage.getItem('sonic.token')), token, 'the token is kept');
    await context.close();
  } finally {
    await stopServer(auth);
  }
});

test('rate limit: the second quick request is refused in plain words with the wait', async () => {
  const limited = await launchServer('limited', ['--rate-limit-per-min', '1', '--rate-limit-burst', '1']);
  try {
    const { page, context } = await open(browser, limited.url);
    await page.setInputFiles('#image-input', files.text);  // cheap: refused after the limiter
    await page.setInputFiles('#audio-input', files.speech);
    await page.click('#generate-button');
    await page.waitForFunction(() => /not a picture/.test(document.getElementById('error-title').textContent), null, { timeout: 60000 });
    await page.click('#generate-button');
    await page.waitForFunction(() => /Too many requests/.test(document.getElementById('error-title').textContent), null, { timeout: 60000 });
    assert.match(await page.textContent('#error-hint'), /wait (\d+ s|\d+ min)/, 'the page says how long to wait');
    assert.equal(await page.isVisible('#audio-preview'), true, 'the chosen files stay');
    await context.close();
  } finally {
    await stopServer(limited);
  }
});

test('CORS: a listed origin may call the API from a browser, another may not', async () => {
  // Two origins from one page server: http://127.0.0.1:P is listed, http://localhost:P is not.
  const pageServer = await launchServer('origin');
  const allowed = pageServer.url;
  const api = await launchServer('cors', ['--cors-origin', allowed]);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const call = (target) => page.evaluate(async (u) => {
      try {
        // The Authorization header makes this a preflighted request.
        const r = await fetch(u + '/api/jobs', { headers: { Authorization: 'Bearer x', 'X-Request-Id': 'cors-test' } });
        return { status: r.status, requestId: r.headers.get('X-Request-Id') };
      } catch (e) {
        return { error: String(e) };
      }
    }, target);
    await page.goto(allowed + '/');
    const ok = await call(api.url);
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.equal(ok.requestId, 'cors-test', 'exposed headers are readable');
    await page.goto(allowed.replace('127.0.0.1', 'localhost') + '/');
    const refused = await call(api.url);
    assert.ok(refused.error, `a page from an unlisted origin must not read the answer: ${JSON.stringify(refused)}`);
    await context.close();
  } finally {
    await stopServer(api);
    await stopServer(pageServer);
  }
});

test('phone width: usable layout, no horizontal scrolling', async () => {
  const { page, context } = await openPage({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
  assert.ok(focused && focused !== 'BODY', 'keyboard focus reaches a control');
  await shot(page, 'phone.png');
  await context.close();
});
