// Errors in the page's own words. The API answers {"code","field","error"}; the page maps
// code + field to a title and a hint in the chosen language (strings-*.js, keys
// error.<code>[.<field>].title|hint) and never shows the API's English developer text or a
// parameter name. A setting at fault is named by its label and highlighted (settings.js).
import { $, state } from './state.js';
import { t, has, formatSeconds, formatBytes } from './i18n.js';
import { PARAMS, markFieldError, clearFieldError } from './settings.js';

const FIELD_GROUPS = { image: 'image', audio: 'audio' };

function paramRange(name) {
  const param = PARAMS.find((p) => p.name === name);
  if (!param || param.min === undefined) return '';
  const unit = (v) => (param.unit ? t(`unit.${param.unit}`, { n: v }) : String(v));
  const max = name === 'duration' ? (state.limits && state.limits.max_audio_seconds) || 300 : param.max;
  return t('error.range', { min: unit(param.min), max: unit(max) });
}

// {title, hint} for an error {code, field, retryAfter, ...} in the current language.
export function describeError(error) {
  const code = has(`error.${error.code}.title`) ? error.code : 'unknown';
  const field = error.field || '';
  const fieldKey = FIELD_GROUPS[field] ? `error.${code}.${field}` : null;
  const pick = (what) => t(fieldKey && has(`${fieldKey}.${what}`) ? `${fieldKey}.${what}` : `error.${code}.${what}`, values(error));
  let title = pick('title');
  let hint = pick('hint');
  if ((code === 'invalid_param' || code === 'invalid_config') && field && !FIELD_GROUPS[field]) {
    const known = has(`param.${field}.label`) ? t(`param.${field}.label`) : (has(`field.${field}`) ? t(`field.${field}`) : null);
    if (known) {
      title = t(`error.${code}.named`, { setting: known });
      hint = has(`error.field.${field}`) ? t(`error.field.${field}`) : `${paramRange(field)} ${t('error.invalid_param.fix')}`.trim();
    }
  }
  return { title, hint };
}

function values(error) {
  return {
    seconds: error.retryAfter ? formatSeconds(error.retryAfter) : t('error.a_moment'),
    length: formatSeconds(error.length || state.audioSeconds),
    limit: formatSeconds(state.limits && state.limits.max_audio_seconds),
    total: error.total ? formatBytes(error.total) : '',
    max: error.maxBytes ? formatBytes(error.maxBytes) : (state.limits && state.limits.max_upload_bytes ? formatBytes(state.limits.max_upload_bytes) : ''),
    reference: error.requestId || '',
  };
}

// Shows the error (and announces it), marks the setting at fault, and moves focus to it
// (or to the error when no setting is at fault) when `focus` is set.
export function showError(error, focus = true) {
  state.error = error;
  const { title, hint } = describeError(error);
  $('error-title').textContent = title;
  $('error-hint').textContent = hint;
  $('error-reference').textContent = error.requestId ? t('error.reference', { id: error.requestId }) : '';
  $('error-reference').hidden = !error.requestId;
  $('error-mark-face').hidden = error.code !== 'no_face' || !state.image;
  $('error-panel').hidden = false;
  $('live-alert').textContent = `${title}. ${hint}`;
  let target = null;
  if (error.field && !FIELD_GROUPS[error.field]) target = markFieldError(error.field, `${title}. ${hint}`);
  if (error.field && FIELD_GROUPS[error.field]) {
    const drop = $(`${error.field}-drop`);
    drop.classList.add('invalid');
    target = $(`${error.field}-input`);
  }
  if (focus) (target || $('error-title')).focus({ preventScroll: false });
  if (!target) $('error-panel').scrollIntoView({ block: 'nearest' });
}

export function hideError() {
  state.error = null;
  $('error-panel').hidden = true;
  $('live-alert').textContent = '';
  for (const drop of document.querySelectorAll('.drop.invalid')) drop.classList.remove('invalid');
  clearFieldError();
}

// A language switch re-words the error on show without moving focus.
export function rewordError() {
  if (state.error && !$('error-panel').hidden) {
    const { title, hint } = describeError(state.error);
    $('error-title').textContent = title;
    $('error-hint').textContent = hint;
    if (state.error.requestId) $('error-reference').textContent = t('error.reference', { id: state.error.requestId });
  }
}

// An API answer {code, field, error, request_id} + headers → the page's error object.
export function fromResponse(r) {
  const retry = Number(r.headers && r.headers.get ? r.headers.get('Retry-After') : NaN);
  return { code: r.body.code || (r.status === 404 ? 'not_found' : 'unknown'), field: r.body.field || '',
    retryAfter: isFinite(retry) && retry > 0 ? retry : null, requestId: r.body.request_id || '' };
}
