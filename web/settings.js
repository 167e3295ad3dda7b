// Styles (presets) and the advanced settings (DESIGN §4) as sliders and switches with their
// ranges, units and recommended range, a reset to the chosen style, the setting at fault
// highlighted when the server refuses a value, and the settings the chosen engine ignores
// shown disabled with the reason. A value comes from, in order: what the person set here,
// the framing choice (framing.js), the style, the server's default.
import { $, state } from './state.js';
import { t, has, formatSeconds } from './i18n.js';

// kind: range | switch | number | length. rec: the recommended range [low, high].
export const PARAMS = [
  { name: 'duration', kind: 'length', min: 0.5, step: 0.1, unit: 's' },
  { name: 'min_resolution', kind: 'range', min: 256, max: 1024, step: 2, unit: 'px', rec: [384, 1024] },
  { name: 'expand_ratio', kind: 'range', min: 0, max: 1, step: 0.01, unit: 'ratio', rec: [0.15, 0.2] },
  { name: 'dynamic_scale', kind: 'range', min: 0, max: 2, step: 0.05, unit: 'times', rec: [1.0, 1.2] },
  { name: 'motion_scale', kind: 'range', min: 0, max: 2, step: 0.05, unit: 'times', rec: [1.0, 1.1] },
  { name: 'inference_steps', kind: 'range', min: 1, max: 100, step: 1, unit: 'steps', rec: [20, 30] },
  { name: 'fps', kind: 'range', min: 10, max: 60, step: 1, unit: 'fps', rec: [25, 25] },
  { name: 'align_mouth', kind: 'switch', rec: true },
  { name: 'smooth_motion', kind: 'switch', rec: true },
  { name: 'full_frame', kind: 'switch', rec: false },
  { name: 'seed', kind: 'number', min: 0, max: 2147483647, step: 1 },
];

export const DEFAULTS = { min_resolution: 512, expand_ratio: 0.15, inference_steps: 25, dynamic_scale: 1.0,
  motion_scale: 1.0, align_mouth: true, smooth_motion: true, fps: 25, seed: 0, full_frame: false, aspect_ratio: '1:1' };

let framingValues = () => ({});
export function useFramingValues(fn) { framingValues = fn; }

function presetConfig() {
  const p = state.presets.find((x) => x.name === state.preset);
  return (p && p.config) || {};
}

export function effectiveValue(name) {
  if (name in state.overrides) return state.overrides[name];
  const framed = framingValues();
  if (name in framed) return framed[name];
  const config = presetConfig();
  return name in config ? config[name] : DEFAULTS[name];
}

export function chosenEngine() {
  return state.engines.find((e) => e.name === state.engine) || state.engines.find((e) => e.default) || null;
}

// The reason the chosen engine ignores `name` in the page's words, or null when it uses it.
export function ignoredReason(name) {
  const engine = chosenEngine();
  if (!engine || !engine.parameters) return null;
  const ignored = (engine.parameters.ignored || []).find((i) => i.param === name);
  if (ignored) return has(`ignored.${name}`) ? t(`ignored.${name}`) : t('ignored.generic');
  const accepted = engine.parameters.accepted;
  if (Array.isArray(accepted) && accepted.length && !accepted.includes(name)) return t('ignored.unknown');
  return null;
}

function unitText(unit, value) { return t(`unit.${unit}`, { n: value }); }

function lengthMax() {
  const limit = state.limits && state.limits.max_audio_seconds ? state.limits.max_audio_seconds : 300;
  return state.audioSeconds ? Math.min(limit, Math.floor(state.audioSeconds * 10) / 10) : limit;
}

function describe(param) {
  const parts = [t(`param.${param.name}.help`)];
  if (param.kind === 'range')
    parts.push(t('settings.range', { min: unitText(param.unit, param.min), max: unitText(param.unit, param.max) }));
  if (param.rec !== undefined) {
    const rec = Array.isArray(param.rec)
      ? (param.rec[0] === param.rec[1] ? unitText(param.unit, param.rec[0])
        : `${unitText(param.unit, param.rec[0])} – ${unitText(param.unit, param.rec[1])}`)
      : t(param.rec ? 'settings.on' : 'settings.off');
    parts.push(t('settings.recommended', { value: rec }));
  }
  return parts.join(' ');
}

function renderOne(param) {
  const wrap = document.createElement('div');
  wrap.className = 'param';
  wrap.dataset.param = param.name;
  const id = 'param-' + param.name;
  const value = effectiveValue(param.name);
  const reason = ignoredReason(param.name);
  const label = t(`param.${param.name}.label`);
  const help = document.createElement('small');
  help.id = id + '-help';
  help.textContent = describe(param);
  const problem = document.createElement('p');
  problem.className = 'param-error';
  problem.id = id + '-error';
  problem.hidden = true;
  let input;
  if (param.kind === 'switch') {
    wrap.innerHTML = `<label class="switch"><input type="checkbox" role="switch" id="${id}"><span class="track" aria-hidden="true"></span><span class="switch-label"></span></label>`;
    wrap.querySelector('.switch-label').textContent = label;
    input = wrap.querySelector('input');
    input.checked = !!value;
    input.addEventListener('change', () => { state.overrides[param.name] = input.checked; changed(param.name); });
  } else if (param.kind === 'number') {
    wrap.innerHTML = `<label for="${id}"></label><input type="number" id="${id}" inputmode="numeric">`;
    wrap.querySelector('label').textContent = label;
    input = wrap.querySelector('input');
    Object.assign(input, { min: param.min, max: param.max, step: param.step, value });
    input.addEventListener('change', () => {
      if (input.value === '') delete state.overrides[param.name];
      else state.overrides[param.name] = Number(input.value);
      changed(param.name);
    });
  } else {
    const max = param.kind === 'length' ? lengthMax() : param.max;
    const whole = param.kind === 'length' && (value === undefined || value === null || value === '');
    wrap.innerHTML = `<div class="param-head"><label for="${id}"></label><output for="${id}"></output></div>`
      + `<input type="range" id="${id}">`
      + `<div class="range-ends" aria-hidden="true"><span></span><span></span></div>`;
    wrap.querySelector('label').textContent = label;
    input = wrap.querySelector('input');
    Object.assign(input, { min: param.min, max, step: param.step });
    input.value = whole ? max : value;
    const ends = wrap.querySelectorAll('.range-ends span');
    ends[0].textContent = unitText(param.unit, param.min);
    ends[1].textContent = unitText(param.unit, max);
    if (param.rec) {
      const at = (v) => `${((v - param.min) / (max - param.min)) * 100}%`;
      input.style.setProperty('--rec-from', at(param.rec[0]));
      input.style.setProperty('--rec-to', at(Math.max(param.rec[1], param.rec[0] + param.step)));
      input.classList.add('has-rec');
    }
    const output = wrap.querySelector('output');
    const show = () => {
      const text = param.kind === 'length' && whole && !(param.name in state.overrides)
        ? t('param.duration.whole', { length: formatSeconds(state.audioSeconds) })
        : unitText(param.unit, Number(input.value));
      output.textContent = text;
      input.setAttribute('aria-valuetext', text);
    };
    show();
    input.addEventListener('input', () => { state.overrides[param.name] = Number(input.value); show(); });
    input.addEventListener('change', () => { state.overrides[param.name] = Number(input.value); show(); changed(param.name); });
    if (param.kind === 'length') {
      const reset = document.createElement('button');
      reset.type = 'button';
      reset.className = 'link';
      reset.id = 'param-duration-whole';
      reset.textContent = t('param.duration.use_whole');
      reset.hidden = whole;
      reset.addEventListener('click', () => { delete state.overrides.duration; changed('duration'); $('param-duration').focus(); });
      wrap.appendChild(reset);
    }
  }
  input.setAttribute('aria-describedby', `${help.id} ${problem.id}`);
  wrap.append(help);
  if (reason) {
    input.disabled = true;
    wrap.classList.add('ignored');
    const why = document.createElement('p');
    why.className = 'ignored-reason';
    why.id = id + '-ignored';
    why.textContent = reason;
    wrap.append(why);
    input.setAttribute('aria-describedby', `${help.id} ${why.id} ${problem.id}`);
  }
  wrap.append(problem);
  return wrap;
}

let onChange = () => {};
export function onSettingsChange(fn) { onChange = fn; }
function changed(name) {
  clearFieldError(name);
  const focused = document.activeElement && document.activeElement.id;
  renderParams();
  if (focused && $(focused)) $(focused).focus();
  onChange(name);
}

export function renderParams() {
  const box = $('params');
  box.replaceChildren(...PARAMS.map(renderOne));
  $('reset-settings').disabled = Object.keys(state.overrides).length === 0;
}

export function resetSettings() {
  state.overrides = {};
  renderParams();
  onChange('*');
  $('reset-settings').focus();
}

// The server refused a value: open the settings, mark the field and put focus on it.
export function markFieldError(field, message) {
  const wrap = document.querySelector(`.param[data-param="${CSS.escape(field)}"]`);
  if (!wrap) return false;
  $('advanced').open = true;
  wrap.classList.add('invalid');
  const input = wrap.querySelector('input');
  input.setAttribute('aria-invalid', 'true');
  const problem = wrap.querySelector('.param-error');
  problem.textContent = message;
  problem.hidden = false;
  return input;
}

export function clearFieldError(name) {
  for (const wrap of document.querySelectorAll(name ? `.param[data-param="${CSS.escape(name)}"]` : '.param.invalid')) {
    wrap.classList.remove('invalid');
    const input = wrap.querySelector('input');
    if (input) input.removeAttribute('aria-invalid');
    const problem = wrap.querySelector('.param-error');
    if (problem) problem.hidden = true;
  }
}

// ---------- styles ----------
function presetText(preset, what) {
  const key = `preset.${preset.name}.${what}`;
  if (has(key)) return t(key);
  return what === 'name' ? preset.name.replace(/-/g, ' ') : (preset.description || '');
}

let onPreset = () => {};
export function onPresetChange(fn) { onPreset = fn; }

export function renderPresets() {
  const box = $('presets');
  const focused = document.activeElement && document.activeElement.name === 'preset' ? document.activeElement.value : null;
  box.replaceChildren();
  for (const preset of state.presets) {
    const card = document.createElement('label');
    card.className = 'preset';
    card.dataset.preset = preset.name;
    card.innerHTML = '<input type="radio" name="preset"><strong></strong><span></span>';
    const radio = card.querySelector('input');
    radio.value = preset.name;
    radio.checked = preset.name === state.preset;
    radio.id = 'preset-' + preset.name;
    card.querySelector('strong').textContent = presetText(preset, 'name');
    card.querySelector('span').textContent = presetText(preset, 'description');
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      state.preset = preset.name;
      renderParams();
      onPreset();
    });
    box.appendChild(card);
  }
  if (focused) {
    const again = box.querySelector(`input[value="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

// The engine choice: every engine the server lists, only ready ones selectable.
export function renderEngines() {
  const select = $('engine-select');
  const wrap = $('engine-choice');
  wrap.hidden = state.engines.length < 2;
  select.replaceChildren();
  for (const engine of state.engines) {
    const option = document.createElement('option');
    option.value = engine.name;
    const ready = !engine.state || engine.state === 'ready';
    option.disabled = !ready;
    option.textContent = ready ? engine.name : `${engine.name} (${t(`engine.state.${engine.state}`)})`;
    option.selected = engine.name === (chosenEngine() || {}).name;
    select.appendChild(option);
  }
}
