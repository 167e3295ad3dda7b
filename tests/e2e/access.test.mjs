// Keyboard and screen readers (issue 16): a whole run with the keyboard only — examples,
// style, framing, the face box (arrow keys move it, Shift + arrows resize it), Generate —
// with the focus following the work (progress, then the result, scrolled into view); and an
// axe-core scan of the page in both languages, in light and dark, at every step: zero
// serious or critical violations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchServer, stopServer, launchBrowser, makeMedia, openPage, tabTo, focusedId, resultDuration, captureGenerate,
  axeViolations, shot, cleanup,
} from './harness.mjs';

let server, browser, files;

before(async () => {
  files = makeMedia('access');
  server = await launchServer('access');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(server);
  cleanup();
});

test('keyboard only: examples, style, framing, a face box moved and resized with arrow keys, Generate, the result', async () => {
  const { page, context, problems } = await openPage(browser, server.url);
  const press = async (key, times = 1) => { for (let i = 0; i < times; i++) await page.keyboard.press(key); };

  await tabTo(page, '[data-example="square"]');
  await press('Enter');
  await page.waitForSelector('#crop-preview:not([hidden])');
  await tabTo(page, '[data-example="en"]');
  await press('Enter');
  await page.waitForFunction(() => /example-voice-english\.ogg · \d/.test(document.getElementById('audio-name').textContent));

  // The face box starts on the picture's centre and follows the keys.
  await tabTo(page, '#mark-face');
  await press('Enter');
  assert.equal(await focusedId(page), 'face-box-overlay', 'the box has the focus');
  assert.equal(await page.getAttribute('#face-box-overlay', 'aria-label'),
    'Face box: 33% from the left, 33% from the top, 33% wide, 33% high');
  await press('ArrowRight', 3);
  await press('ArrowUp', 10);
  await press('Shift+ArrowLeft', 2);
  assert.match(await page.textContent('#facebox-status'), /39% from the left, 14% from the top, 29% wide, 33% high/,
    'each move is announced');
  await press('Enter');
  assert.equal(await focusedId(page), 'mark-face', 'Enter keeps the box and returns the focus');
  assert.match(await page.textContent('#facebox-status'), /Face box kept/);
  assert.match(await page.textContent('#crop-note'), /around the face you marked/, 'the crop preview uses the box');
  await shot(page, 'desktop-keyboard-face-box.png');

  // A style with the arrow keys: the choice moves and the focus stays on it.
  await tabTo(page, '#preset-natural');
  await press('ArrowRight');
  assert.equal(await focusedId(page), 'preset-expressive');
  assert.equal(await page.isChecked('#preset-expressive'), true);
  await tabTo(page, 'input[name=shot]:checked');
  await press('ArrowRight');
  assert.equal(await page.isChecked('input[name=shot][value=shoulders]'), true);

  await tabTo(page, '#advanced summary');
  await press('Enter');
  await tabTo(page, '#param-min_resolution');
  await press('Home');
  assert.equal(await page.inputValue('#param-min_resolution'), '256');
  assert.equal(await page.textContent('#reset-settings:not([disabled])'), 'Reset to the style’s values');

  await tabTo(page, '#generate-button');
  const { sent } = await captureGenerate(page);
  await press('Enter');
  const { config } = await sent;
  assert.deepEqual(config.face_box, [201, 71, 151, 171], 'the box the keys made, in picture pixels');
  assert.equal(config.min_resolution, 256);
  assert.equal(config.expand_ratio, 1);
  await page.waitForFunction(() => ['progress-title', 'result-title'].includes(document.activeElement.id));
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
  await page.waitForFunction(() => document.activeElement.id === 'result-title');
  assert.ok((await resultDuration(page)) > 6);
  await page.waitForFunction(() => {
    const r = document.getElementById('result-panel').getBoundingClientRect();
    return r.top >= -1 && r.top < window.innerHeight;
  }, null, { timeout: 5000 });
  await tabTo(page, '#download-link', 15);  // past the player's own controls
  assert.match(await page.getAttribute('#download-link', 'download'), /^example-presenter-square-talking-\d{4}-\d\d-\d\d\.mp4$/);
  await shot(page, 'desktop-keyboard-result.png');
  assert.deepEqual(problems, []);
  await context.close();
});

for (const [locale, colorScheme] of [['en-US', 'light'], ['zh-CN', 'light'], ['en-US', 'dark'], ['zh-CN', 'dark']]) {
  test(`accessibility scan (axe-core), ${locale}, ${colorScheme}: no serious or critical violation at any step`, async () => {
    const { page, context } = await openPage(browser, server.url, { locale, colorScheme });
    const found = {};
    found.start = await axeViolations(page);

    await page.click('#try-example');
    await page.waitForSelector('#crop-preview:not([hidden])');
    await page.waitForFunction(() => /\d/.test(document.getElementById('audio-name').textContent));
    await page.click('#mark-face');
    await page.click('#advanced summary');
    found.ready = await axeViolations(page);

    await page.locator('#param-min_resolution').focus();
    await page.keyboard.press('Home');
    await page.click('#generate-button');
    await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
    await page.waitForSelector('#history li');
    found.result = await axeViolations(page);

    await page.setInputFiles('#image-input', files.text);
    await page.click('#generate-button');
    await page.waitForSelector('#error-panel:not([hidden])', { timeout: 60000 });
    found.error = await axeViolations(page);
    await shot(page, `${locale === 'zh-CN' ? 'zh' : 'en'}-${colorScheme}-axe-error.png`);

    for (const [step, list] of Object.entries(found)) assert.deepEqual(list, [], `${step}:\n${list.join('\n')}`);
    await context.close();
  });
}
