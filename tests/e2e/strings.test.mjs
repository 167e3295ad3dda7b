// The two string tables (web/strings-en.js, web/strings-zh.js) against the page and the
// server: the same keys in both, every key the page asks for present, every API error code
// and every preset worded in both languages, and no parameter name in any sentence a person
// reads. No browser needed: the tables are plain modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './harness.mjs';

const web = path.join(root, 'web');
const load = async (name) => (await import('data:text/javascript,' + encodeURIComponent(fs.readFileSync(path.join(web, name), 'utf8')))).default;
const en = await load('strings-en.js');
const zh = await load('strings-zh.js');
const sources = fs.readdirSync(web).filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(web, f), 'utf8')).join('\n')
  .split('\n').filter((line) => !/^\s*\/\//.test(line)).join('\n');  // comments name keys as examples
const html = fs.readFileSync(path.join(web, 'index.html'), 'utf8');

// Every code the API can answer with (src/util/error.h), and a job's own "interrupted".
const codes = [...fs.readFileSync(path.join(root, 'src/util/error.h'), 'utf8')
  .match(/enum class ErrorCode \{([\s\S]*?)\};/)[1].matchAll(/^\s+([a-z_]+),/gm)].map((m) => m[1]).concat('interrupted');
const presets = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'config/presets.json'), 'utf8')));
const paramNames = [...fs.readFileSync(path.join(web, 'settings.js'), 'utf8').matchAll(/\{ name: '([a-z_]+)', kind:/g)].map((m) => m[1]);

test('both languages have exactly the same keys', () => {
  const missingZh = Object.keys(en).filter((k) => !(k in zh));
  const missingEn = Object.keys(zh).filter((k) => !(k in en));
  assert.deepEqual(missingZh, [], 'missing in strings-zh.js');
  assert.deepEqual(missingEn, [], 'missing in strings-en.js');
});

test('every key the page and its scripts name exists', () => {
  const wanted = new Set();
  for (const m of html.matchAll(/data-i18n="([^"]+)"/g)) wanted.add(m[1]);
  for (const m of html.matchAll(/data-i18n-attr="([^"]+)"/g))
    for (const pair of m[1].split(';')) wanted.add(pair.split(':').slice(1).join(':').trim());
  for (const m of sources.matchAll(/\bt\('([a-z0-9_.:-]+)'/gi)) wanted.add(m[1]);
  for (const name of paramNames) { wanted.add(`param.${name}.label`); wanted.add(`param.${name}.help`); }
  for (const stage of ['upload', 'queued', 'running', 'load', 'detect', 'analyse', 'render', 'encode']) wanted.add(`stage.${stage}`);
  for (const status of ['queued', 'running', 'succeeded', 'failed', 'canceled', 'gone']) wanted.add(`status.${status}`);
  for (const shape of ['1:1', '9:16', '16:9']) wanted.add(`framing.shape.${shape}`);
  for (const state of ['ready', 'starting', 'crashed']) wanted.add(`engine.state.${state}`);
  for (const unit of ['s', 'px', 'ratio', 'times', 'steps', 'fps']) wanted.add(`unit.${unit}`);
  const missing = [...wanted].filter((k) => !(k in en) || !(k in zh));
  assert.deepEqual(missing, []);
  assert.ok(wanted.size > 100, `found ${wanted.size} keys`);
  assert.equal(paramNames.length, 11, `settings found: ${paramNames}`);
});

test('every API error code and every preset is worded in both languages', () => {
  assert.ok(codes.length >= 30, `codes parsed from error.h: ${codes}`);
  for (const table of [en, zh])
    for (const code of codes) {
      assert.ok(table[`error.${code}.title`], `error.${code}.title`);
      assert.ok(table[`error.${code}.hint`], `error.${code}.hint`);
    }
  for (const table of [en, zh])
    for (const name of presets) assert.ok(table[`preset.${name}.name`] && table[`preset.${name}.description`], name);
});

test('Chinese sentences are Chinese, and no sentence names a parameter', () => {
  const cjk = /[\u4e00-\u9fff]/;
  const sample = { n: 2, s: 30, m: 1, total: '4 MB', max: '3 MB', limit: '5 min', length: '6 min', seconds: '42 s', first: 'x' };
  const text = (v) => (typeof v === 'function' ? v(sample) : v);
  // Keys whose Chinese is numbers, symbols or a file name by design.
  const neutral = new Set(['progress.line', 'footer.api', 'record.file', 'unit.s', 'unit.px', 'unit.fps', 'unit.seconds',
    'unit.min_s', 'unit.minutes', 'unit.times', 'length.first_seconds', 'unit.minutes_or_seconds']);
  const english = Object.keys(zh).filter((k) => !neutral.has(k) && !cjk.test(text(zh[k])));
  assert.deepEqual(english, [], 'Chinese entries without Chinese');
  for (const table of [en, zh])
    for (const [key, value] of Object.entries(table)) {
      assert.doesNotMatch(text(value), /\b[a-z]+_[a-z_]+\b/, `${key} names a parameter`);
      if (typeof value === 'function') assert.doesNotMatch(text(value), /\{\w+\}|undefined/, `${key} has an unfilled hole`);
    }
});
