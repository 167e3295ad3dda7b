// Browser tests in 简体中文 (issue 16): a Chinese browser gets the Chinese page; a photo named
// 主播照片.png downloads as 主播照片-说话视频-….mp4; the examples reach a video in two clicks;
// the switch between languages is remembered; errors are in the page's own Chinese words
// with the setting at fault marked; framing and the engine choice follow GET /api/engines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchServer, stopServer, launchBrowser, makeMedia, openPage, waitReady, setRange, resultDuration, captureGenerate,
  shot, cleanup,
} from './harness.mjs';

let server, browser, files;

before(async () => {
  files = makeMedia('zh');
  server = await launchServer('zh');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(server);
  cleanup();
});

const zh = (viewport) => openPage(browser, server.url, { locale: 'zh-CN', ...(viewport ? { viewport } : {}) });
const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

test('zh-CN: a Chinese browser gets the Chinese page; head and shoulders from 主播照片.png downloads with its name', async () => {
  const { page, context, problems } = await zh();
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.textContent('h1'), '让照片开口说话');
  assert.equal(await page.getAttribute('[data-lang="zh-CN"]', 'aria-pressed'), 'true');
  assert.equal(await page.textContent('.preset[data-preset="news-anchor"] strong'), '新闻主播');

  await page.setInputFiles('#image-input', files.chinesePortrait);
  await page.setInputFiles('#audio-input', files.speech);
  await page.waitForSelector('#crop-preview:not([hidden])');
  assert.match(await page.textContent('#image-name'), /^主播照片\.png · /);
  // The framing preview follows the choice: a wider frame for head and shoulders.
  const crop = async () => (await page.getAttribute('#crop-canvas', 'data-crop')).split(',').map(Number);
  const close = await crop();
  await page.click('text=头部和肩膀');
  const shoulders = await crop();
  assert.ok(shoulders[2] > close[2] * 1.5, `head and shoulders is wider: ${close} → ${shoulders}`);
  assert.match(await page.textContent('#crop-note'), /大致预览/, 'the preview says it is approximate');
  // The classic engine takes aspect_ratio (GET /api/engines lists it), so the shapes are offered.
  const engines = await (await fetch(server.url + '/api/engines')).json();
  assert.ok(engines.engines[0].parameters.accepted.includes('aspect_ratio'), 'classic accepts aspect_ratio');
  assert.equal(await page.isDisabled('input[name=shape][value="9:16"]'), false);
  await page.click('text=竖屏 9:16');
  await page.click('#advanced summary');
  await setRange(page, '#param-min_resolution', 256);
  await shot(page, 'zh-desktop-ready.png');

  const { sent } = await captureGenerate(page);
  await page.click('#generate-button');
  const { config } = await sent;
  assert.equal(config.expand_ratio, 1, 'head and shoulders widens the margin');
  assert.equal(config.full_frame, false);
  assert.equal(config.aspect_ratio, '9:16');
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
  assert.ok((await resultDuration(page)) > 1.5);
  const [videoWidth, videoHeight] = await page.evaluate(() => {
    const v = document.getElementById('result-video');
    return [v.videoWidth, v.videoHeight];
  });
  assert.ok(Math.abs(videoHeight / videoWidth - 16 / 9) < 0.02, `the video is vertical 9:16: ${videoWidth}x${videoHeight}`);
  const name = `主播照片-说话视频-${today()}.mp4`;
  assert.equal(await page.getAttribute('#download-link', 'download'), name);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
  assert.equal(download.suggestedFilename(), name, 'the browser saves it under the Chinese name');
  await page.waitForFunction(() => document.querySelector('#history li[data-status="succeeded"] .state')?.textContent === '已完成');
  await shot(page, 'zh-desktop-result.png');
  assert.deepEqual(problems, []);
  await context.close();
});

test('zh-CN: the example photo and Chinese voice reach a video in two clicks, at phone size', async () => {
  const { page, context } = await zh({ width: 390, height: 844 });
  await page.click('#try-example');  // click 1
  await page.waitForFunction(() => /示例语音-中文\.ogg/.test(document.getElementById('audio-name').textContent));
  assert.match(await page.textContent('#image-name'), /示例主播-竖版\.jpg/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'generate-button', 'Generate is next');
  await page.keyboard.press('Enter');  // click 2
  await page.waitForSelector('#result-panel:not([hidden])', { timeout: 180000 });
  assert.ok((await resultDuration(page)) > 7, 'the whole example voice is spoken');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
  await shot(page, 'zh-phone-result.png');
  await context.close();
});

test('the language switch is visible, remembered, and re-words what is on show', async () => {
  const { page, context } = await openPage(browser, server.url, { locale: 'en-US' });
  assert.equal(await page.textContent('h1'), 'Talking photo');
  await page.setInputFiles('#image-input', files.text);
  await page.setInputFiles('#audio-input', files.speech);
  await page.click('#generate-button');
  await page.waitForSelector('#error-panel:not([hidden])', { timeout: 60000 });
  assert.match(await page.textContent('#error-title'), /not a picture/);
  await page.click('[data-lang="zh-CN"]');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.textContent('#error-title'), '这个照片文件无法识别为图片', 'the error on show is re-worded');
  assert.equal(await page.textContent('#generate-button'), '生成视频');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.lang), 'zh-CN', 'focus stays on the switch');
  await page.reload();
  await waitReady(page);
  assert.equal(await page.textContent('h1'), '让照片开口说话', 'the choice outlives a reload');
  await page.click('[data-lang="en"]');
  await page.reload();
  await waitReady(page);
  assert.equal(await page.textContent('h1'), 'Talking photo');
  await context.close();
});

test('zh-CN: a refused setting is named in Chinese and marked; no parameter name is shown', async () => {
  const { page, context } = await zh();
  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.speech);
  await page.click('#advanced summary');
  // A server with a narrower range than the page's slider (here: the page's slider widened).
  await page.locator('#param-dynamic_scale').evaluate((el) => { el.max = '5'; });
  await setRange(page, '#param-dynamic_scale', 5);
  await page.click('#generate-button');
  await page.waitForSelector('#error-panel:not([hidden])', { timeout: 60000 });
  assert.equal(await page.textContent('#error-title'), '“嘴部动作”超出了范围');
  assert.match(await page.textContent('#error-hint'), /允许范围：0 倍 – 2 倍/);
  assert.ok(await page.$('.param[data-param="dynamic_scale"].invalid'), 'the setting is highlighted');
  assert.equal(await page.getAttribute('#param-dynamic_scale', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'param-dynamic_scale', 'focus is on the setting');
  assert.equal(await page.evaluate(() => document.getElementById('advanced').open), true);
  const shown = await page.evaluate(() => document.getElementById('error-panel').innerText + document.getElementById('live-alert').innerText);
  assert.doesNotMatch(shown, /dynamic_scale|[a-z]+_[a-z]+|setting:/, 'no developer words');
  assert.match(await page.textContent('#live-alert'), /嘴部动作/, 'announced');
  await shot(page, 'zh-desktop-field-error.png');
  // Reset to the style's values clears it, and the next run succeeds.
  await page.click('#reset-settings');
  assert.equal(await page.$('.param.invalid'), null);
  assert.equal(await page.inputValue('#param-dynamic_scale'), '1');
  await context.close();
});

test('engines from GET /api/engines: only ready ones selectable, ignored settings disabled with the reason, shapes when accepted', async () => {
  const { page, context } = await zh();
  // A faithful stand-in for the engines the external-engine work adds (none runs here yet):
  // the server's real answer, plus a starting engine and a ready one that accepts aspect_ratio.
  await page.route('**/api/engines', async (route) => {
    const real = await (await route.fetch()).json();
    const classic = real.engines[0];
    // Stand-in for an engine without shapes: classic as it was before it took aspect_ratio.
    classic.parameters.accepted = classic.parameters.accepted.filter((p) => p !== 'aspect_ratio');
    real.engines.push(
      { name: 'sonic', version: '1', description: 'stand-in', default: false, state: 'starting', parameters: classic.parameters },
      { name: 'sonic-gpu', version: '1', description: 'stand-in', default: false, state: 'ready',
        parameters: { accepted: [...classic.parameters.accepted, 'inference_steps', 'aspect_ratio'].filter((p) => p !== 'smooth_motion'),
          ignored: [{ param: 'smooth_motion', reason: 'the model smooths by itself' }] } });
    await route.fulfill({ json: real });
  });
  await page.reload();
  await waitReady(page);
  assert.equal(await page.isVisible('#engine-select'), true);
  const options = await page.$$eval('#engine-select option', (list) => list.map((o) => [o.value, o.disabled, o.textContent]));
  assert.deepEqual(options.map((o) => [o[0], o[1]]), [['classic', false], ['sonic', true], ['sonic-gpu', false]]);
  assert.match(options[1][2], /正在启动/);
  await page.click('#advanced summary');
  assert.equal(await page.isDisabled('#param-inference_steps'), true, 'classic ignores quality steps');
  assert.match(await page.textContent('#param-inference_steps-ignored'), /没有质量步数/);
  assert.equal(await page.isDisabled('input[name=shape][value="9:16"]'), true);
  assert.match(await page.textContent('#shape-note'), /只能生成方形/, 'the shapes say why they wait');

  await page.selectOption('#engine-select', 'sonic-gpu');
  assert.equal(await page.isDisabled('#param-inference_steps'), false);
  assert.equal(await page.isDisabled('#param-smooth_motion'), true);
  assert.match(await page.textContent('#param-smooth_motion-ignored'), /所选引擎不使用这项设置/);
  assert.equal(await page.isDisabled('input[name=shape][value="9:16"]'), false, 'shapes once aspect_ratio is accepted');

  await page.setInputFiles('#image-input', files.portrait);
  await page.setInputFiles('#audio-input', files.speech);
  await page.waitForSelector('#crop-preview:not([hidden])');
  await page.click('text=头部和肩膀');
  await page.click('text=竖屏 9:16');
  const [, , w, h] = (await page.getAttribute('#crop-canvas', 'data-crop')).split(',').map(Number);
  assert.ok(Math.abs(h / w - 16 / 9) < 0.05, `the preview is 9:16: ${w}x${h}`);
  await shot(page, 'zh-desktop-framing-9x16.png');
  // What would be sent (the stand-in engine does not run here, so the request stops at the page).
  const { sent } = await captureGenerate(page, { abort: true });
  await page.click('#generate-button');
  const { config } = await sent;
  assert.equal(config.engine, 'sonic-gpu');
  assert.equal(config.aspect_ratio, '9:16');
  assert.equal(config.expand_ratio, 1);
  await page.waitForSelector('#error-panel:not([hidden])');
  assert.equal(await page.textContent('#error-title'), '连接不上服务器');
  await context.close();
});
