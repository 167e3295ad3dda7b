// One job from Generate to the video: the upload (Prefer: respond-async), live progress
// from the job's events, the result, cancel — and nothing lost on a reload or a closed tab:
// the job in progress is remembered in this browser (sonic.active) and the page reconnects
// to its events when it opens again. Focus follows the work: Generate → the progress →
// the result (scrolled into view) or the error; a cancel is a notice, not an error.
import { $, state } from './state.js';
import { t, language, formatSeconds, formatWait } from './i18n.js';
import { api, authHeaders } from './api.js';
import { showError, hideError, fromResponse } from './errors.js';
import { framingValues } from './framing.js';
import { needsLengthChoice } from './media.js';
import { remember, historyEntry, thumbnailFrom } from './history.js';

const FINAL = ['succeeded', 'failed', 'canceled'];
let stream = null, pollTimer = null, lastProgress = { fraction: 0, stage: 'queued', eta: null };
let onFinished = () => {};
export function onJobFinished(fn) { onFinished = fn; }

function setBusy(busy) {
  $('generate-button').disabled = busy;
  $('cancel-button').hidden = !busy;
}

export function renderProgress() {
  const { fraction, stage, eta } = lastProgress;
  $('progress-bar').value = fraction || 0;
  const name = t(`stage.${stage}`) !== `stage.${stage}` ? t(`stage.${stage}`) : t('stage.working');
  let text = t('progress.line', { stage: name, percent: Math.round((fraction || 0) * 100) });
  if (eta !== undefined && eta !== null && isFinite(eta)) text += ' · ' + t('progress.eta', { time: formatSeconds(Math.max(0, eta)) });
  $('progress-text').textContent = text;
}

function showProgress(fraction, stage, eta) {
  $('progress-panel').hidden = false;
  const stageChanged = stage && stage !== lastProgress.stage;
  lastProgress = { fraction: fraction || 0, stage: stage || lastProgress.stage, eta };
  renderProgress();
  if (stageChanged) $('live-status').textContent = t(`stage.${lastProgress.stage}`);
}

// ---------- the download name: the photo's own name, Chinese characters kept ----------
export function downloadName(sourceName, created = Date.now()) {
  const base = (sourceName || '').replace(/\.[^.]*$/, '').replace(/[\\/:*?"<>|\u0000-\u001f\u007f]+/g, '-')
    .replace(/^[\s.-]+|[\s.-]+$/g, '') || t('download.base');
  const date = new Date(created);
  const day = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
  return `${base}-${t('download.suffix')}-${day}.mp4`;
}

function showResult(job) {
  const url = job.video_url || (job.result && job.result.video_url);
  if (!url) return false;
  const entry = historyEntry(job.job_id || job.id || state.jobId) || {};
  $('progress-panel').hidden = true;
  $('result-panel').hidden = false;
  const video = $('result-video');
  video.src = url;
  thumbnailFrom(job.job_id || job.id || state.jobId, url);
  const name = downloadName(entry.name || (state.image && state.image.name), entry.created);
  $('download-link').href = url;
  $('download-link').setAttribute('download', name);
  $('download-name').textContent = name;
  $('result-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
  $('result-title').focus({ preventScroll: true });
  $('live-status').textContent = t('result.ready');
  return true;
}

function showNotice(text) {
  $('notice-text').textContent = text;
  $('notice-panel').hidden = false;
  $('live-status').textContent = text;
}

function finish(job) {
  if (state.finished) return;
  state.finished = true;
  stopWatching();
  setBusy(false);
  localStorage.removeItem('sonic.active');
  const status = job.status || job.state;
  remember(state.jobId, { status, expired: !!job.output_expired });
  onFinished();
  if (status === 'succeeded' && showResult(job)) return;
  $('progress-panel').hidden = true;
  if (status === 'succeeded') { showNotice(t('history.expired_long')); return; }
  if (status === 'canceled') {
    showNotice(t('notice.canceled'));
    $('generate-button').focus();
    return;
  }
  const error = job.error && typeof job.error === 'object' ? job.error
    : { code: job.error_code || job.code || 'engine_failed', field: job.error_field || job.field };
  showError({ code: error.code || 'engine_failed', field: error.field || '', requestId: job.request_id || '' });
}

function stopWatching() {
  if (stream) { stream.abort(); stream = null; }
  if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
}

async function poll() {
  let r = null;
  try { r = await api(`/api/jobs/${state.jobId}`); } catch (_) { r = null; }
  if (state.finished) return;
  if (r && r.ok) {
    const status = r.body.status || r.body.state;
    if (FINAL.includes(status)) { finish(r.body); return; }
    showProgress(r.body.progress, r.body.stage || status, r.body.eta_s);
  } else if (r && r.status === 404) {
    finish({ status: 'failed', error: { code: 'not_found' } });
    return;
  }
  pollTimer = setTimeout(poll, 1000);
}

// Server-Sent Events read with fetch (not EventSource) so the Authorization header can be sent.
async function watch(eventsUrl) {
  const controller = new AbortController();
  stream = controller;
  try {
    const response = await fetch(eventsUrl, { headers: { ...authHeaders(), Accept: 'text/event-stream' }, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error('no stream');
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
        let type = 'message', data = '';
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (!data) continue;
        let payload = {};
        try { payload = JSON.parse(data); } catch (_) { continue; }
        if (type === 'progress') showProgress(payload.fraction ?? payload.progress, payload.stage, payload.eta_s);
        else if (type === 'status') {
          showProgress(payload.progress || 0, payload.stage || payload.status);
          if (payload.status) remember(state.jobId, { status: payload.status });
        } else if (type === 'done' || type === 'failed') {
          const job = await api(`/api/jobs/${state.jobId}`);
          finish(job.ok ? job.body : { status: type === 'done' ? 'succeeded' : 'failed', ...payload });
          return;
        }
      }
    }
  } catch (_) { /* fall through to polling */ }
  if (!state.finished && stream === controller) { stream = null; poll(); }
}

function startWatching(id, eventsUrl) {
  state.jobId = id;
  state.finished = false;
  localStorage.setItem('sonic.active', id);
  setBusy(true);
  lastProgress = { fraction: 0, stage: 'queued', eta: null };
  showProgress(0, 'queued');
  watch(eventsUrl || `/api/jobs/${id}/events`);
}

// The parameters to send: the framing choice, then what the person set.
export function requestConfig() {
  const config = { ...framingValues(), ...state.overrides };
  if (state.faceBox) config.face_box = state.faceBox;
  const engine = state.engines.find((e) => e.name === state.engine);
  if (engine && !engine.default) config.engine = engine.name;
  return config;
}

export async function submit(event) {
  event.preventDefault();
  hideError();
  $('notice-panel').hidden = true;
  $('result-panel').hidden = true;
  if (!state.image || !state.audio) {
    showError({ code: 'missing_file', field: !state.image ? 'image' : 'audio' });
    return;
  }
  // Too long for this server, and the person has not chosen to use the first part: ask
  // now instead of uploading and failing.
  if (needsLengthChoice()) {
    $('live-alert').textContent = $('length-text').textContent;
    $('use-first').focus();
    $('length-notice').scrollIntoView({ block: 'center' });
    return;
  }
  // Over the upload limit: say so before sending (a body far over it is refused by closing
  // the connection, which a browser reports only as a network error).
  const total = state.image.size + state.audio.size;
  if (state.limits && state.limits.max_upload_bytes && total > state.limits.max_upload_bytes) {
    showError({ code: 'payload_too_large', total, maxBytes: state.limits.max_upload_bytes });
    return;
  }
  const form = new FormData();
  form.append('image', state.image, state.image.name || 'image');
  form.append('audio', state.audio, state.audio.name || 'audio');
  form.append('preset', state.preset);
  form.append('config', JSON.stringify(requestConfig()));
  setBusy(true);
  state.finished = false;
  lastProgress = { fraction: 0, stage: 'upload', eta: null };
  showProgress(0, 'upload');
  $('progress-title').focus();
  let r;
  try {
    r = await api('/api/sonic/generate', { method: 'POST', body: form, headers: { Prefer: 'respond-async' } });
  } catch (_) {
    setBusy(false);
    $('progress-panel').hidden = true;
    showError({ code: 'network' });
    return;
  }
  if (!r.ok) {
    setBusy(false);
    $('progress-panel').hidden = true;
    showError(fromResponse(r));
    return;
  }
  const id = r.body.job_id;
  remember(id, { status: r.body.status || 'queued', name: state.image.name, created: Date.now(), lang: language() });
  if (r.status === 200 && r.body.video_url) {
    state.jobId = id;
    finish({ ...r.body, status: 'succeeded' });
    return;
  }
  startWatching(id, r.body.events_url);
}

export async function cancel() {
  if (!state.jobId) return;
  $('cancel-button').disabled = true;
  try { await api(`/api/jobs/${state.jobId}/cancel`, { method: 'POST' }); } catch (_) { /* the job's state says */ }
  $('cancel-button').disabled = false;
  let r = null;
  try { r = await api(`/api/jobs/${state.jobId}`); } catch (_) { r = null; }
  finish(r && r.ok ? r.body : { status: 'canceled' });
}

// Opens a job from the history, or the one in progress when the page was closed.
export async function reopen(id, { focus = true } = {}) {
  stopWatching();
  hideError();
  $('notice-panel').hidden = true;
  $('result-panel').hidden = true;
  let r;
  try { r = await api(`/api/jobs/${id}`); } catch (_) { showError({ code: 'network' }, focus); return; }
  if (!r.ok) {
    if (r.status === 404) {
      remember(id, { status: 'gone' });
      if (localStorage.getItem('sonic.active') === id) localStorage.removeItem('sonic.active');
    }
    showError(fromResponse(r), focus);
    return;
  }
  state.jobId = id;
  state.finished = false;
  const status = r.body.status || r.body.state;
  remember(id, { status, expired: !!r.body.output_expired });
  if (FINAL.includes(status)) { finish(r.body); return; }
  startWatching(id, r.body.events_url);
  showProgress(r.body.progress, r.body.stage || status, r.body.eta_s);
  if (focus) $('progress-title').focus();
}

export async function resumeActive() {
  const id = localStorage.getItem('sonic.active');
  if (id) await reopen(id, { focus: false });
}

// ---------- the wait before Generate ----------
export function renderEstimate() {
  const box = $('estimate');
  const wait = state.limits && state.limits.wait;
  if (!wait) { box.hidden = true; return; }
  box.hidden = false;
  const ahead = (wait.queued || 0) + (wait.running || 0);
  const parts = [];
  const length = typeof state.overrides.duration === 'number' ? state.overrides.duration : state.audioSeconds;
  if (wait.samples > 0 && wait.run_seconds_per_audio_second !== null && length) {
    const total = (wait.queue_seconds || 0) + wait.run_seconds_fixed + wait.run_seconds_per_audio_second * length;
    parts.push(t('estimate.total', { time: formatWait(total) }));
  } else if (wait.samples > 0) {
    parts.push(t('estimate.choose_voice'));
  } else {
    parts.push(t('estimate.unknown'));
  }
  parts.push(ahead ? t('estimate.ahead', { n: ahead }) : t('estimate.idle'));
  box.textContent = parts.join(' ');
}
