// The web page (issue 16): photo + voice → a talking video, in 简体中文 or English. No
// framework and no build step: ES modules, embedded in the binary with the page, talking
// only to this server's API. This file wires the modules together and starts the page:
//   i18n.js + strings-*.js   the two languages        media.js    inputs, examples, length check
//   settings.js              styles, advanced         framing.js  shot, shape, crop preview
//   facebox.js               marking the face         job.js      generate, progress, result
//   history.js               this browser's jobs      errors.js   errors in the page's words
import { $, state } from './state.js';
import { t, detectLanguage, setLanguage, onLanguageChange } from './i18n.js';
import { api, optional } from './api.js';
import { rewordError } from './errors.js';
import {
  renderParams, renderPresets, renderEngines, resetSettings, useFramingValues, onSettingsChange, onPresetChange,
} from './settings.js';
import { framingValues, loadFraming, wireFraming, renderFraming, drawPreview, onFramingChange } from './framing.js';
import { wireFaceBox, redrawFaceBox, onFaceBoxChange, startMarking } from './facebox.js';
import {
  setImage, setAudio, wireDrop, toggleRecording, recordLabel, useExamples, renderExampleButtons,
  renderLengthCheck, useFirstPart, onInputsChange,
} from './media.js';
import { submit, cancel, reopen, resumeActive, renderEstimate, renderProgress, onJobFinished } from './job.js';
import { renderHistory, refreshHistory, keepHistoryFresh, onHistoryOpen } from './history.js';

useFramingValues(framingValues);

function renderVoiceTypes() {
  const limit = state.limits && state.limits.max_audio_seconds;
  $('voice-types').textContent = limit ? t('voice.types_limit', { limit: t('unit.minutes_or_seconds', { s: limit }) }) : t('voice.types');
}

function renderAll() {
  renderPresets();
  renderParams();
  renderEngines();
  renderFraming();
  renderExampleButtons();
  renderLengthCheck();
  renderEstimate();
  renderHistory();
  renderVoiceTypes();
  recordLabel();
  redrawFaceBox();
  if (!$('progress-panel').hidden) renderProgress();
  rewordError();
}

async function loadLimits() {
  const limits = await optional('/api/limits');
  if (limits) state.limits = limits;
  renderVoiceTypes();
  renderLengthCheck();
  renderEstimate();
  renderHistory();
}

async function loadPresets() {
  let list = [];
  try {
    const r = await api('/api/presets');
    list = Array.isArray(r.body) ? r.body : (r.body.presets || []);
  } catch (_) { list = []; }
  state.presets = list.length ? list : [{ name: 'natural', description: '', config: {} }];
  if (!state.presets.some((p) => p.name === state.preset)) state.preset = state.presets[0].name;
}

async function loadEngines() {
  const body = await optional('/api/engines');
  state.engines = (body && body.engines) || [];
  const ready = (e) => !e.state || e.state === 'ready';
  const preferred = state.engines.find((e) => e.default && ready(e)) || state.engines.find(ready);
  state.engine = preferred ? preferred.name : '';
}

// ---------- wiring ----------
for (const button of document.querySelectorAll('[data-lang]'))
  button.addEventListener('click', () => setLanguage(button.dataset.lang, true));
onLanguageChange(renderAll);

wireDrop('image-drop', 'image-input', setImage);
wireDrop('audio-drop', 'audio-input', setAudio);
onInputsChange(
  () => { drawPreview(); redrawFaceBox(); $('image-drop').classList.remove('invalid'); },
  () => { renderParams(); renderEstimate(); $('audio-drop').classList.remove('invalid'); },
);
$('record-button').addEventListener('click', toggleRecording);
$('use-first').addEventListener('click', useFirstPart);
$('try-example').addEventListener('click', async () => {
  const button = $('try-example');
  button.disabled = true;
  try {
    await useExamples();
    $('live-status').textContent = t('quick.done');
    $('generate-button').scrollIntoView({ block: 'center' });
    $('generate-button').focus({ preventScroll: true });
  } finally { button.disabled = false; }
});

wireFraming();
onFramingChange(() => { renderParams(); drawPreview(); });
wireFaceBox();
onFaceBoxChange(drawPreview);
$('error-mark-face').addEventListener('click', () => { $('image-preview').scrollIntoView({ block: 'center' }); startMarking(true); });

onSettingsChange(() => { drawPreview(); renderEstimate(); renderLengthCheck(); });
onPresetChange(() => drawPreview());
$('reset-settings').addEventListener('click', resetSettings);
$('engine-select').addEventListener('change', (e) => {
  state.engine = e.target.value;
  renderParams();
  renderFraming();
});

$('job-form').addEventListener('submit', submit);
$('cancel-button').addEventListener('click', cancel);
onJobFinished(() => loadLimits());
onHistoryOpen((id) => reopen(id));
// Another tab of this page added or changed a row.
window.addEventListener('storage', (e) => { if (e.key === 'sonic.history') renderHistory(); });

$('token-input').value = localStorage.getItem('sonic.token') || '';
$('token-input').addEventListener('change', (e) => localStorage.setItem('sonic.token', e.target.value.trim()));

// ---------- start ----------
loadFraming();
setLanguage(detectLanguage());
await Promise.all([loadPresets(), loadEngines(), loadLimits()]);
renderAll();
document.body.dataset.ready = 'true';
await resumeActive();
refreshHistory();
keepHistoryFresh();
