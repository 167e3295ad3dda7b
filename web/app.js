// The page talks only to this server's own API (DESIGN §5). No framework and no build
// step: one script, embedded in the binary with the page, so a single file serves it.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  image: null, audio: null, preset: 'natural', presets: [], overrides: {},
  faceBox: null, jobId: null, stream: null, pollTimer: null, finished: false, limits: null,
};

// Every DESIGN §4 parameter as a labelled control: [name, label, kind, min, max, step, recommended, help]
const PARAMS = [
  ['duration', 'Length (seconds)', 'number', 0.5, 300, 0.1, 'the recording’s length', 'Leave empty to use the whole recording. Shorter cuts the sound; longer adds silence with the mouth at rest.'],
  ['min_resolution', 'Video size (pixels)', 'number', 256, 1024, 2, '384–1024 (1024 for 1080p)', 'The shorter side of the video.'],
  ['expand_ratio', 'Margin around the face', 'number', 0, 1, 0.01, '0.15–0.2', 'Extra space around the face so head movement never cuts it off.'],
  ['inference_steps', 'Quality steps', 'number', 1, 100, 1, '20–30', 'Used by diffusion engines; the built-in engine ignores it.'],
  ['dynamic_scale', 'Mouth movement', 'number', 0, 2, 0.05, '1.0–1.2', 'How wide the mouth opens.'],
  ['motion_scale', 'Head movement', 'number', 0, 2, 0.05, '1.0–1.1', 'How much the head and face move; 0 keeps the head still.'],
  ['align_mouth', 'Match mouth to sound', 'bool', 0, 0, 0, 'on', 'Corrects small delays between voice and lips.'],
  ['smooth_motion', 'Smooth motion', 'bool', 0, 0, 0, 'on', 'Removes jumps between frames.'],
  ['fps', 'Frames per second', 'number', 10, 60, 1, '25', 'Smoothness of the video.'],
  ['seed', 'Variation number', 'number', 0, 2147483647, 1, 'any', 'The same number gives the same video again; change it for different blinks and movement.'],
  ['full_frame', 'Keep the whole picture', 'bool', 0, 0, 0, 'off', 'Return the whole original picture instead of a close-up of the face.'],
];

const DEFAULTS = { duration: '', min_resolution: 512, expand_ratio: 0.15, inference_steps: 25, dynamic_scale: 1.0,
  motion_scale: 1.0, align_mouth: true, smooth_motion: true, fps: 25, seed: 0, full_frame: false };

function authHeaders() {
  const token = localStorage.getItem('sonic.token') || '';
  return token ? { Authorization: 'Bearer ' + token } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { status: response.status, ok: response.ok, body: body || {}, headers: response.headers };
}

// ---------- files ----------
function formatSeconds(s) {
  if (!isFinite(s)) return '';
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m ? `${m} min ${r} s` : `${(Math.round(s * 10) / 10)} s`;
}

function setImage(file) {
  if (!file) return;
  state.image = file;
  state.faceBox = null;
  $('face-box-overlay').hidden = true;
  $('image-thumb').src = URL.createObjectURL(file);
  $('image-name').textContent = `${file.name} · ${(file.size / 1e6).toFixed(2)} MB`;
  $('image-preview').hidden = false;
}

function setAudio(file) {
  if (!file) return;
  state.audio = file;
  const player = $('audio-player');
  player.src = URL.createObjectURL(file);
  $('audio-name').textContent = `${file.name} · ${(file.size / 1e6).toFixed(2)} MB`;
  player.onloadedmetadata = () => {
    $('audio-name').textContent = `${file.name} · ${formatSeconds(player.duration)} · ${(file.size / 1e6).toFixed(2)} MB`;
  };
  $('audio-preview').hidden = false;
}

function wireDrop(zoneId, inputId, setter) {
  const zone = $(zoneId), input = $(inputId);
  input.addEventListener('change', () => setter(input.files[0]));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('dragging'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    if (e.dataTransfer.files.length) setter(e.dataTransfer.files[0]);
  });
}

// ---------- microphone: recorded as WAV so every server accepts it ----------
let recorder = null;
function encodeWav(buffer) {
  const rate = buffer.sampleRate, data = buffer.getChannelData(0);
  const out = new DataView(new ArrayBuffer(44 + data.length * 2));
  const text = (o, s) => { for (let i = 0; i < s.length; i++) out.setUint8(o + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); out.setUint32(4, 36 + data.length * 2, true); text(8, 'WAVE'); text(12, 'fmt ');
  out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
  out.setUint32(24, rate, true); out.setUint32(28, rate * 2, true); out.setUint16(32, 2, true);
  out.setUint16(34, 16, true); text(36, 'data'); out.setUint32(40, data.length * 2, true);
  for (let i = 0; i < data.length; i++) out.setInt16(44 + i * 2, Math.max(-1, Math.min(1, data[i])) * 0x7fff, true);
  return new Blob([out], { type: 'audio/wav' });
}

async function toggleRecording() {
  const button = $('record-button'), status = $('record-status');
  if (recorder) { recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) { status.textContent = 'This browser cannot record; choose a file instead.'; return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => chunks.push(e.data);
    recorder.onstop = async () => {
      stream.getTracks().forEach((t) => t.stop());
      recorder = null;
      button.textContent = '● Record from microphone';
      button.setAttribute('aria-pressed', 'false');
      try {
        const context = new AudioContext();
        const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
        setAudio(new File([encodeWav(decoded)], 'recording.wav', { type: 'audio/wav' }));
        status.textContent = 'Recording ready.';
      } catch (_) { status.textContent = 'The recording could not be read; please try again.'; }
    };
    recorder.start();
    button.textContent = '■ Stop recording';
    button.setAttribute('aria-pressed', 'true');
    status.textContent = 'Recording… speak now.';
  } catch (_) { status.textContent = 'Microphone not available or permission refused.'; }
}

// ---------- presets and advanced settings ----------
function presetConfig() {
  const p = state.presets.find((x) => x.name === state.preset);
  return (p && p.config) || {};
}

function effectiveValue(name) {
  if (name in state.overrides) return state.overrides[name];
  const config = presetConfig();
  return name in config ? config[name] : DEFAULTS[name];
}

function renderParams() {
  const box = $('params');
  box.innerHTML = '';
  for (const [name, label, kind, min, max, step, recommended, help] of PARAMS) {
    const wrap = document.createElement('div');
    wrap.className = 'param';
    const id = 'param-' + name;
    const value = effectiveValue(name);
    if (kind === 'bool') {
      wrap.innerHTML = `<label><input type="checkbox" id="${id}"> ${label}</label>`;
      wrap.querySelector('input').checked = !!value;
    } else {
      wrap.innerHTML = `<label for="${id}">${label}</label><input type="number" id="${id}" min="${min}" max="${max}" step="${step}">`;
      wrap.querySelector('input').value = value === null ? '' : value;
    }
    const small = document.createElement('small');
    small.id = id + '-help';
    small.textContent = `${help} Recommended: ${recommended}.`;
    wrap.appendChild(small);
    const input = wrap.querySelector('input');
    input.setAttribute('aria-describedby', small.id);
    input.addEventListener('change', () => {
      if (kind === 'bool') state.overrides[name] = input.checked;
      else if (input.value === '') delete state.overrides[name];
      else state.overrides[name] = Number(input.value);
    });
    box.appendChild(wrap);
  }
}

function renderPresets() {
  const box = $('presets');
  box.innerHTML = '';
  for (const preset of state.presets) {
    const card = document.createElement('button');
    card.type = 'button';
    card.className = 'preset';
    card.setAttribute('role', 'radio');
    card.setAttribute('aria-checked', String(preset.name === state.preset));
    card.dataset.preset = preset.name;
    card.innerHTML = '<strong></strong><span></span>';
    card.querySelector('strong').textContent = preset.name.replace('-', ' ');
    card.querySelector('span').textContent = preset.description || '';
    card.addEventListener('click', () => { state.preset = preset.name; renderPresets(); renderParams(); });
    box.appendChild(card);
  }
}

async function loadLimits() {
  try {
    const r = await api('/api/limits');
    if (r.ok) state.limits = r.body;
  } catch (_) { /* an older server: the server's own 413 still explains */ }
}

function formatBytes(n) {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${Math.ceil(n / 1024)} kB`;
}

async function loadPresets() {
  const r = await api('/api/presets');
  const list = Array.isArray(r.body) ? r.body : (r.body.presets || []);
  state.presets = list.length ? list : [{ name: 'natural', description: 'Balanced defaults.', config: {} }];
  if (!state.presets.some((p) => p.name === state.preset)) state.preset = state.presets[0].name;
  renderPresets();
  renderParams();
}

// ---------- errors in plain words ----------
const ERROR_HINTS = {
  missing_file: ['A file is missing', 'Choose both a photo and a voice recording.'],
  no_face: ['No face found in the photo', 'Use a clear, well-lit photo looking at the camera — or drag a box around the face on the picture above, then press Generate again.'],
  payload_too_large: ['The file is too big', 'Use a smaller photo (under 40 megapixels) and a shorter or compressed recording.'],
  unsupported_media_type: ['That file type is not supported', 'Photos: PNG, JPEG or WebP. Recordings: WAV, MP3, FLAC, OGG/Opus or M4A.'],
  unreadable_media: ['The file could not be read', 'It may be damaged. Try saving it again or use another file.'],
  audio_too_long: ['The recording is too long', 'Cut it to 5 minutes or less.'],
  queue_full: ['The server is busy', 'Many videos are being made right now. Please try again in a minute.'],
  rate_limited: ['Too many requests', 'Please wait as long as the message above says, then press Generate again.'],
  unauthorized: ['Sign-in needed', 'Enter your access token or API key under “Access token” below.'],
  invalid_param: ['A setting is out of range', 'Check the Advanced settings.'],
  invalid_config: ['A setting is not understood', 'Reset the Advanced settings and try again.'],
  canceled: ['Canceled', 'The video was not made. Press Generate to start again.'],
};

function showError(code, message, field) {
  const [title, hint] = ERROR_HINTS[code] || ['Something went wrong', 'Please try again. If it keeps happening, tell the people who run this service.'];
  $('error-title').textContent = title;
  $('error-text').textContent = message || '';
  $('error-hint').textContent = hint + (field ? ` (setting: ${field})` : '');
  $('error-panel').hidden = false;
  if (code === 'no_face' && state.image) enableFaceMarking();
}

// Drag a rectangle on the picture to give the engine a face box (face_box, image pixels).
function enableFaceMarking() {
  const wrap = $('image-wrap'), img = $('image-thumb'), overlay = $('face-box-overlay');
  wrap.classList.add('marking');
  let start = null;
  const point = (e) => { const r = img.getBoundingClientRect(); return [Math.max(0, Math.min(r.width, e.clientX - r.left)), Math.max(0, Math.min(r.height, e.clientY - r.top))]; };
  img.draggable = false;  // the browser's own image drag would swallow the pointer events
  wrap.onpointerdown = (e) => { e.preventDefault(); start = point(e); wrap.setPointerCapture(e.pointerId); };
  wrap.onpointermove = (e) => {
    if (!start) return;
    const [x, y] = point(e);
    Object.assign(overlay.style, { left: Math.min(x, start[0]) + 'px', top: Math.min(y, start[1]) + 'px', width: Math.abs(x - start[0]) + 'px', height: Math.abs(y - start[1]) + 'px' });
    overlay.hidden = false;
  };
  wrap.onpointerup = (e) => {
    if (!start) return;
    const [x, y] = point(e);
    const scale = img.naturalWidth / img.getBoundingClientRect().width;
    const box = [Math.min(x, start[0]), Math.min(y, start[1]), Math.abs(x - start[0]), Math.abs(y - start[1])].map((v) => Math.round(v * scale));
    start = null;
    if (box[2] > 8 && box[3] > 8) state.faceBox = box;
  };
}

// ---------- job lifecycle ----------
function setBusy(busy) {
  $('generate-button').disabled = busy;
  $('cancel-button').hidden = !busy;
}

function showProgress(fraction, stage, eta) {
  $('progress-panel').hidden = false;
  $('progress-bar').value = fraction || 0;
  const names = { queued: 'Waiting in line', load: 'Reading your files', detect: 'Finding the face', analyse: 'Listening to the voice', render: 'Animating', encode: 'Saving the video' };
  let text = `${names[stage] || stage || 'Working'} — ${Math.round((fraction || 0) * 100)}%`;
  if (eta !== undefined && eta !== null && isFinite(eta)) text += ` · about ${formatSeconds(Math.max(0, eta))} left`;
  $('progress-text').textContent = text;
}

function downloadName() {
  const base = (state.image && state.image.name ? state.image.name.replace(/\.[^.]+$/, '') : 'talking').replace(/[^\w-]+/g, '-');
  return `${base}-talking-${new Date().toISOString().slice(0, 10)}.mp4`;
}

function showResult(job) {
  const url = job.video_url || (job.result && job.result.video_url);
  if (!url) return;
  $('progress-panel').hidden = true;
  $('result-panel').hidden = false;
  $('result-video').src = url;
  $('download-link').href = url;
  $('download-link').setAttribute('download', downloadName());
}

function finish(job) {
  if (state.finished) return;
  state.finished = true;
  stopWatching();
  setBusy(false);
  const status = job.status || job.state;
  remember(state.jobId, status);
  if (status === 'succeeded') { showResult(job); return; }
  $('progress-panel').hidden = true;
  const error = job.error && typeof job.error === 'object' ? job.error : { code: job.code || job.error_code || (status === 'canceled' ? 'canceled' : 'engine_failed'), message: job.error || job.message };
  showError(error.code, error.message || error.error, error.field);
}

function stopWatching() {
  if (state.stream) { state.stream.abort(); state.stream = null; }
  if (state.pollTimer) { clearTimeout(state.pollTimer); state.pollTimer = null; }
}

async function poll() {
  const r = await api(`/api/jobs/${state.jobId}`);
  if (state.finished) return;
  if (r.ok) {
    const job = r.body;
    const status = job.status || job.state;
    if (['succeeded', 'failed', 'canceled'].includes(status)) { finish(job); return; }
    showProgress(job.progress, job.stage || status, job.eta_s);
  }
  state.pollTimer = setTimeout(poll, 1000);
}

// Server-Sent Events read with fetch (not EventSource) so the Authorization header can be sent.
async function watch(eventsUrl) {
  const controller = new AbortController();
  state.stream = controller;
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
        else if (type === 'status') showProgress(payload.progress || 0, payload.stage || payload.status);
        else if (type === 'done' || type === 'failed' || type === 'canceled') {
          const job = await api(`/api/jobs/${state.jobId}`);
          finish(job.ok ? job.body : { status: type === 'done' ? 'succeeded' : 'failed', ...payload });
          return;
        }
      }
    }
  } catch (_) { /* fall through to polling */ }
  if (!state.finished && state.stream === controller) { state.stream = null; poll(); }
}

async function submit(event) {
  event.preventDefault();
  $('error-panel').hidden = true;
  $('result-panel').hidden = true;
  if (!state.image || !state.audio) {
    showError('missing_file', !state.image ? 'Choose a photo first.' : 'Choose or record a voice recording first.');
    return;
  }
  // Over the server's upload limit: say so now instead of sending it (a body far over the
  // limit is refused by closing the connection, which a browser reports as a network error).
  const total = state.image.size + state.audio.size;
  if (state.limits && state.limits.max_upload_bytes && total > state.limits.max_upload_bytes) {
    showError('payload_too_large', `Together the files are ${formatBytes(total)}; this server takes at most ${formatBytes(state.limits.max_upload_bytes)}.`);
    return;
  }
  const config = { ...state.overrides };
  if (state.faceBox) config.face_box = state.faceBox;
  const form = new FormData();
  form.append('image', state.image, state.image.name || 'image');
  form.append('audio', state.audio, state.audio.name || 'audio');
  form.append('preset', state.preset);
  form.append('config', JSON.stringify(config));
  setBusy(true);
  state.finished = false;
  showProgress(0, 'queued');
  let r;
  try {
    r = await api('/api/sonic/generate', { method: 'POST', body: form, headers: { Prefer: 'respond-async' } });
  } catch (_) {
    setBusy(false);
    $('progress-panel').hidden = true;
    showError('network', 'The server could not be reached. Check your connection and try again.');
    return;
  }
  if (!r.ok) {
    setBusy(false);
    $('progress-panel').hidden = true;
    showError(r.body.code, r.body.error, r.body.field);
    return;
  }
  state.jobId = r.body.job_id;
  remember(state.jobId, r.body.status || 'queued');
  if (r.status === 200 && r.body.video_url) { finish({ ...r.body, status: 'succeeded' }); return; }
  watch(r.body.events_url || `/api/jobs/${state.jobId}/events`);
}

async function cancel() {
  if (!state.jobId) return;
  $('cancel-button').disabled = true;
  await api(`/api/jobs/${state.jobId}/cancel`, { method: 'POST' });
  $('cancel-button').disabled = false;
  const r = await api(`/api/jobs/${state.jobId}`);
  finish(r.ok ? r.body : { status: 'canceled' });
}

// ---------- history of this browser's jobs ----------
function history() {
  try { return JSON.parse(localStorage.getItem('sonic.history') || '[]'); } catch (_) { return []; }
}

function remember(id, status) {
  if (!id) return;
  const list = history().filter((j) => j.id !== id);
  const previous = history().find((j) => j.id === id);
  list.unshift({ id, status, created: previous ? previous.created : Date.now(), name: previous ? previous.name : (state.image && state.image.name) || 'video' });
  localStorage.setItem('sonic.history', JSON.stringify(list.slice(0, 30)));
  renderHistory();
}

function renderHistory() {
  const list = history(), box = $('history');
  box.innerHTML = '';
  $('history-empty').hidden = list.length > 0;
  for (const job of list) {
    const li = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = `${new Date(job.created).toLocaleString()} · ${job.name} · `;
    const st = document.createElement('span');
    st.className = 'state';
    st.textContent = job.status;
    label.appendChild(st);
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'secondary';
    open.textContent = 'Open';
    open.setAttribute('aria-label', `Open video from ${new Date(job.created).toLocaleString()}`);
    open.addEventListener('click', () => reopen(job.id));
    li.append(label, open);
    box.appendChild(li);
  }
}

async function reopen(id) {
  stopWatching();
  $('error-panel').hidden = true;
  $('result-panel').hidden = true;
  const r = await api(`/api/jobs/${id}`);
  if (!r.ok) { showError(r.body.code || 'not_found', 'That video is no longer available on the server.'); return; }
  state.jobId = id;
  state.finished = false;
  const status = r.body.status || r.body.state;
  if (['succeeded', 'failed', 'canceled'].includes(status)) finish(r.body);
  else { setBusy(true); watch(`/api/jobs/${id}/events`); }
}

// ---------- start ----------
wireDrop('image-drop', 'image-input', setImage);
wireDrop('audio-drop', 'audio-input', setAudio);
$('record-button').addEventListener('click', toggleRecording);
$('job-form').addEventListener('submit', submit);
$('cancel-button').addEventListener('click', cancel);
$('token-input').value = localStorage.getItem('sonic.token') || '';
$('token-input').addEventListener('change', (e) => localStorage.setItem('sonic.token', e.target.value.trim()));
renderHistory();
loadPresets();
loadLimits();
