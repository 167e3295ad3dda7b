// What every browser test file shares: the real sonic-server binary on a free loopback port,
// Debian's Chromium driven by playwright-core (never a downloaded browser), test media made
// from the shared fixtures with sox/ffmpeg, and small helpers that wait on events in the page
// rather than on the clock. Screenshots land in tests/e2e/artifacts/.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(new URL(import.meta.url).pathname);
export const root = path.resolve(here, '../..');
export const binary = process.env.SONIC_BINARY || path.join(root, 'build/release/sonic-server');
export const fixtures = process.env.SONIC_FIXTURES || path.resolve(root, '../shared/fixtures');
export const artifacts = path.join(here, 'artifacts');
export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sonic-e2e-'));
fs.mkdirSync(artifacts, { recursive: true });

// Starts the binary on a free loopback port; resolves to { proc, url, dataDir }.
export async function launchServer(name, extraArgs = [], env = {}) {
  const portFile = path.join(work, `${name}.port`);
  const dataDir = path.join(work, `${name}-data`);
  const proc = spawn(binary, ['serve', '--host', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--data-dir', dataDir, '--log-level', 'warn',
    // Per-user limits off unless a test sets them: these tests generate many videos at once.
    ...(extraArgs.includes('--rate-limit-per-min') ? [] : ['--rate-limit-per-min', '0']),
    ...(extraArgs.includes('--max-active-jobs') ? [] : ['--max-active-jobs', '0']),
    ...extraArgs],
  { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) break;
    if (proc.exitCode !== null) throw new Error(`server ${name} exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url + '/healthz')).ok) return { proc, url, dataDir, exited }; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server ${name} did not become healthy`);
}

// SIGTERM, as a service manager stops it. The server's shutdown is bounded, so a server still
// running 30 s later is a failure, reported as one (and killed, so the run goes on) instead
// of a test run that never ends.
export async function stopServer(server) {
  const proc = server && (server.proc || server);
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  let timer;
  const late = new Promise((r) => { timer = setTimeout(() => r('late'), 30000); });
  const outcome = await Promise.race([exited.then(() => 'exited'), late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`the server (pid ${proc.pid}) was still running 30 s after SIGTERM`);
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.SONIC_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // A fake microphone (a beeping tone) and auto-accepted permission for the recording test.
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
    // Playwright starts Chromium with a fresh temporary profile (user data dir) each launch.
  });
}

// Test media, made once per file that asks (names are per call, so files do not clash).
export function makeMedia(prefix = 'm') {
  const p = (name) => path.join(work, `${prefix}-${name}`);
  const m = {
    portrait: path.join(fixtures, 'portrait.png'),
    chinesePortrait: path.join(work, prefix, '主播照片.png'),  // its own folder: the name is the point
    speech: p('speech_2s.wav'),
    longSpeech: p('speech_60s.wav'),
    flat: p('flat.png'),
    text: p('notes.png'),
    big: p('big.wav'),
  };
  fs.mkdirSync(path.dirname(m.chinesePortrait), { recursive: true });
  fs.copyFileSync(m.portrait, m.chinesePortrait);
  execFileSync('sox', [path.join(fixtures, 'speech_en_5s.wav'), m.speech, 'trim', '0', '2']);
  execFileSync('sox', [path.join(fixtures, 'speech_en_7s.wav'), m.longSpeech, 'repeat', '8']);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x6688aa:s=320x240', '-frames:v', '1', m.flat]);
  fs.writeFileSync(m.text, 'These are my notes, not a picture.\n');
  // 4 MB of real WAV: over a 3 MB server limit.
  execFileSync('sox', ['-n', '-r', '48000', '-c', '2', '-b', '16', m.big, 'synth', '22', 'sine', '440']);
  return m;
}

// A new browser context (its own localStorage) and page, waiting until the page is ready.
export async function openPage(browser, url, { viewport = { width: 1280, height: 900 }, locale = 'en-US', colorScheme } = {}) {
  const context = await browser.newContext({ viewport, locale, colorScheme });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(url + '/');
  await waitReady(page);
  return { page, context, problems };
}

export async function waitReady(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
}

// Range inputs cannot be typed into; set one as a person's drag would end: value + change.
export async function setRange(page, selector, value) {
  await page.locator(selector).evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

// Presses Tab until `selector` has the focus, as a keyboard user would; fails after `max`.
export async function tabTo(page, selector, max = 120) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return i;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

export async function focusedId(page) {
  return page.evaluate(() => (document.activeElement ? document.activeElement.id : ''));
}

// Resolves with the video's duration once the result's player has loaded it.
export async function resultDuration(page) {
  const handle = await page.waitForFunction(() => {
    const v = document.getElementById('result-video');
    return v.readyState >= 1 && v.duration > 0 ? v.duration : false;
  }, null, { timeout: 60000 });
  return handle.jsonValue();
}

// Intercepts the next generate request (a streamed multipart body is only readable there);
// resolves once the interception is in place to { sent }, a promise of the request's
// `config` field as JSON. The request then goes on unchanged, unless `abort` is set.
export async function captureGenerate(page, { abort = false } = {}) {
  let resolve;
  const sent = new Promise((r) => { resolve = r; });
  const handler = async (route) => {
    const body = (route.request().postDataBuffer() || Buffer.alloc(0)).toString('utf8');
    const match = body.match(/name="config"\r\n\r\n([^\r]*)\r\n/);
    if (abort) await route.abort(); else await route.continue();
    resolve({ config: match ? JSON.parse(match[1]) : null, body });
  };
  await page.route('**/api/sonic/generate', handler, { times: 1 });
  return { sent };
}

// Chooses the files, the smallest video size, presses Generate and waits for the result.
export async function generateSmall(page, image, audio) {
  await page.setInputFiles('#image-input', image);
  await page.setInputFiles('#audio-input', audio);
  await page.click('#advanced summary');
  await setRange(page, '#param-min_resolution', 256);
  await page.click('#generate-button');
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
}

// Polls the API (not the page) until `predicate(job)` holds; bounded.
export async function waitJob(url, id, predicate, timeoutMs = 180000) {
  const deadline = Date.now() + timeoutMs;
  let job = null;
  while (Date.now() < deadline) {
    const r = await fetch(`${url}/api/jobs/${id}`);
    job = await r.json();
    if (predicate(job, r.status)) return job;
    await new Promise((r2) => setTimeout(r2, 200));
  }
  throw new Error(`job ${id} never reached the expected state: ${JSON.stringify(job)}`);
}

// Serious or critical accessibility violations found by axe-core in the page as it is now.
export async function axeViolations(page) {
  await page.addScriptTag({ path: path.join(here, 'node_modules/axe-core/axe.min.js') });
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  if (result.passes.length < 20) throw new Error(`axe checked too little: ${result.passes.length} rules passed`);
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

export function shot(page, name) {
  return page.screenshot({ path: path.join(artifacts, name), fullPage: true });
}

export function cleanup() {
  fs.rmSync(work, { recursive: true, force: true });
}
