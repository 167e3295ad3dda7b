// Two languages, 简体中文 and English: every word the page shows comes from strings-*.js
// through t(). The language is the one the person chose (remembered in this browser), else
// the browser's first language we have, else English. Switching re-renders in place.
import en from './strings-en.js';
import zh from './strings-zh.js';

const tables = { en, 'zh-CN': zh };
const listeners = [];
let current = 'en';

export const languages = Object.keys(tables);
export const language = () => current;

export function detectLanguage() {
  const saved = localStorage.getItem('sonic.lang');
  if (saved && tables[saved]) return saved;
  for (const tag of navigator.languages || [navigator.language || '']) {
    if (/^zh\b/i.test(tag)) return 'zh-CN';
    if (/^en\b/i.test(tag)) return 'en';
  }
  return 'en';
}

// t('key', {n: 3}) — a string with {name} holes, or a function of the values.
export function t(key, values = {}) {
  let entry = tables[current][key];
  if (entry === undefined) entry = tables.en[key];
  if (entry === undefined) return key;
  if (typeof entry === 'function') return entry(values);
  return entry.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

export function has(key) { return key in tables[current] || key in tables.en; }

// Elements carry data-i18n="key" (their text) and data-i18n-attr="attr:key;attr:key".
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  document.title = t('page.title');
}

export function setLanguage(tag, remember = false) {
  if (!tables[tag]) return;
  current = tag;
  if (remember) localStorage.setItem('sonic.lang', tag);
  document.documentElement.lang = tag;
  translateStatic();
  for (const button of document.querySelectorAll('[data-lang]'))
    button.setAttribute('aria-pressed', String(button.dataset.lang === tag));
  for (const listener of listeners) listener();
}

export function onLanguageChange(listener) { listeners.push(listener); }

// 65 → "1 min 5 s" / "1 分 5 秒"; 5.26 → "5.3 s" / "5.3 秒".
export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return '';
  const s = Math.max(0, seconds);
  if (s < 60) return t('unit.seconds', { n: Math.round(s * 10) / 10 });
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return r ? t('unit.min_s', { m, s: r }) : t('unit.minutes', { n: m });
}

// How long a wait is, rounded the way people say it: "about 20 s", "about 3 min".
export function formatWait(seconds) {
  if (seconds < 10) return t('wait.seconds', { n: Math.max(1, Math.ceil(seconds)) });
  if (seconds < 90) return t('wait.seconds', { n: Math.ceil(seconds / 5) * 5 });
  return t('wait.minutes', { n: Math.round(seconds / 60) });
}

export function formatBytes(n) {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${Math.ceil(n / 1024)} kB`;
}

export function formatDate(ms) {
  return new Date(ms).toLocaleString(current, { dateStyle: 'medium', timeStyle: 'short' });
}
