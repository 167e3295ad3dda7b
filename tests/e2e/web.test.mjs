// Browser tests of the web page (issue 6): the real sonic-server binary on a free loopback
// port, the real page in Debian's Chromium driven by playwright-core. Screenshots at desktop
// and phone width land in tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const binary = process.env.SONIC_BINARY || path.join(root, 'build/release/sonic-server');
const fixtures = process.env.SONIC_FIXTURES || path.resolve(root, '../shared/fixtures');
const artifacts = path.join(here, 'artifacts');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sonic-e2e-'));

let server, baseUrl, browser;

// Starts the binary on a free loopback port; resolves to { proc, url }.
async function launchServer(name, extraArgs = [], env = {}) {
  const portFile = path.join(work, `${name}.port`);
  const proc = spawn(binary, ['serve', '--host', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--data-dir', path.join(work, `${name}-data`), '--log-level', 'warn',
    // Per-user limits off unless a test sets them: these tests generate many videos at once.
    ...(extraArgs.includes('--rate-limit-per-min') ? [] : ['--rate-limit-per-min', '0']),
    ...(extraArgs.includes('--max-active-jobs') ? [] : ['--max-active-jobs', '0']),
    ...extraArgs],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url + '/healthz')).ok) return { proc, url }; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server ${name} did not become healthy`);
}

async function stopServer(proc) {
  if (!proc || proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
}

async function startServer() {
  ({ proc: server, url: baseUrl } = await launchServer('main', ['--max-upload-mb', '3']));
}

function media() {
  const m = {
    portrait: path.join(fixtures, 'portrait.png'),
    speech: path.join(work, 'speech_2s.wav'),
    longSpeech: path.join(work, 'speech_60s.wav'),
    flat: path.join(work, 'flat.png'),
    text: path.join(work, 'notes.png'),
    big: path.join(work, 'big.wav'),
  };
  execFileSync('sox', [path.join(fixtures, 'speech_en_5s.wav'), m.speech, 'trim', '0', '2']);
  execFileSync('sox', [path.join(fixtures, 'speech_en_7s.wav'), m.longSpeech, 'repeat', '8']);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x6688aa:s=320x240', '-frames:v', '1', m.flat]);
  fs.writeFileSync(m.text, 'These are my notes, not a picture.\n');
  // 4 MB of real WAV: over the server's 3 MB limit for this run.
  execFileSync('sox', ['-n', '-r', '48000', '-c', '2', '-b', '16', m.big, 'synth', '22', 'sine', '440']);
  return m;
}

let files;

before(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  files = media();
  await startServer();
  browser = await chromium.launch({
    executablePath: process.env.SONIC_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // A fake microphone (a beeping tone) and auto-accepted permission for the recording test.
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
    // Playwright starts Chromium with a fresh temporary profile (user data dir) each launch.
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(server);
  fs.rmSync(work, { recursive: true, force: true });
});

async function openPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(baseUrl + '/');
  await page.waitForSelector('.preset');
  return { page, context, problems };
}

test('happy path: preset, live progress, the video plays and downloads', async () => {
  const { page, context, problems } = await openPage();
  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.speech);
  await page.waitForSelector('#image-preview:not([hidden])');
  await page.click('.preset[data-preset="news-anchor"]');
  assert.equal(await page.getAttribute('.preset[data-preset="news-anchor"]', 'aria-checked'), 'true');
  await page.click('#advanced summary');
  await page.fill('#param-min_resolution', '256');
  await page.dispatchEvent('#param-min_resolution', 'change');
  await page.screenshot({ path: path.join(artifacts, 'desktop-ready.png'), fullPage: true });

  const seen = [];
  await page.exposeFunction('recordProgress', (v) => seen.push(v));
  await page.evaluate(() => {
    const bar = document.getElementById('progress-bar');
    new MutationObserver(() => window.recordProgress(Number(bar.value))).observe(bar, { attributes: true });
  });
  await page.click('#generate-button');
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
  const duration = await page.waitForFunction(() => {
    const v = document.getElementById('result-video');
    return v.readyState >= 1 && v.duration > 0 ? v.duration : false;
  }, null, { timeout: 60000 });
  assert.ok((await duration.jsonValue()) > 1.5, 'video has the recording\'s length');
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
  assert.ok((await page.textContent('#history')).includes('succeeded'));
  await page.screenshot({ path: path.join(artifacts, 'desktop-result.png'), fullPage: true });

  // The history survives a reload and re-opens the finished video.
  await page.reload();
  await page.waitForSelector('#history li button');
  await page.click('#history li button');
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
  assert.ok(await page.$('#image-wrap.marking'), 'face marking is offered');
  await page.locator('#image-thumb').scrollIntoViewIfNeeded();
  const box = await page.locator('#image-thumb').boundingBox();
  await page.mouse.move(box.x + 20, box.y + 20);
  await page.mouse.down();
  await page.mouse.move(box.x + 120, box.y + 140, { steps: 5 });
  await page.mouse.up();
  assert.equal(await page.isVisible('#face-box-overlay'), true);
  await page.screenshot({ path: path.join(artifacts, 'desktop-no-face.png'), fullPage: true });
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
  assert.match(await page.textContent('#error-text'), /at most 3\.0 MB/);

  await page.setInputFiles('#image-input', files.text);
  await page.setInputFiles('#audio-input', files.speech);
  await page.click('#generate-button');
  await page.waitForFunction(() => /not supported/.test(document.getElementById('error-title').textContent), null, { timeout: 60000 });
  assert.equal(await page.isVisible('#audio-preview'), true, 'the recording stays chosen');
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
  await page.waitForFunction(() => /Canceled/.test(document.getElementById('error-title').textContent)
      && !document.getElementById('error-panel').hidden, null, { timeout: 60000 });
  assert.equal(await page.isHidden('#result-panel'), true);
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
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
  const page = await context.newPage();
  await page.goto(baseUrl + '/');
  await page.waitForSelector('.preset');
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
  await page.screenshot({ path: path.join(artifacts, 'desktop-dark.png'), fullPage: true });
  await context.close();
});

test('with auth on: the token field signs requests in and the signed video URL plays', async () => {
  const secretFile = path.join(work, 'jwt.secret');
  fs.writeFileSync(secretFile, 'e2e-secret-that-is-long-enough-for-hs256-0123456789');
  const auth = await launchServer('auth', ['--auth', 'jwt', '--jwt-secret-file', secretFile]);
  try {
    const token = execFileSync(binary, ['token', '--sub', 'teacher', '--ttl', '1h', '--secret-file', secretFile]).toString().trim();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(auth.url + '/');
    await page.waitForSelector('.preset');
    await page.setInputFiles('#image-input', files.portrait);
    await page.setInputFiles('#audio-input', files.speech);
    await page.click('#advanced summary');
    await page.fill('#param-min_resolution', '256');
    await page.dispatchEvent('#param-min_resolution', 'change');

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
    const duration = await page.waitForFunction(() => {
      const v = document.getElementById('result-video');
      return v.readyState >= 1 && v.duration > 0 ? v.duration : false;
    }, null, { timeout: 60000 });
    assert.ok((await duration.jsonValue()) > 1.5, 'the signed video plays without a header');
    assert.equal(await page.evaluate(() => localStorage.getItem('sonic.token')), token, 'the token is kept');
    await context.close();
  } finally {
    await stopServer(auth.proc);
  }
});

test('rate limit: the second quick request is refused in plain words with the wait', async () => {
  const limited = await launchServer('limited', ['--rate-limit-per-min', '1', '--rate-limit-burst', '1']);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(limited.url + '/');
    await page.waitForSelector('.preset');
    await page.setInputFiles('#image-input', files.text);  // cheap: refused after the limiter
    await page.setInputFiles('#audio-input', files.speech);
    await page.click('#generate-button');
    await page.waitForFunction(() => /not supported/.test(document.getElementById('error-title').textContent), null, { timeout: 60000 });
    await page.click('#generate-button');
    await page.waitForFunction(() => /Too many requests/.test(document.getElementById('error-title').textContent), null, { timeout: 60000 });
    assert.match(await page.textContent('#error-text'), /retry in \d+ s/, 'the page says how long to wait');
    assert.equal(await page.isVisible('#audio-preview'), true, 'the chosen files stay');
    await context.close();
  } finally {
    await stopServer(limited.proc);
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
    await stopServer(api.proc);
    await stopServer(pageServer.proc);
  }
});

test('phone width: usable layout, no horizontal scrolling', async () => {
  const { page, context } = await openPage({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
  assert.ok(focused && focused !== 'BODY', 'keyboard focus reaches a control');
  await page.screenshot({ path: path.join(artifacts, 'phone.png'), fullPage: true });
  await context.close();
});
