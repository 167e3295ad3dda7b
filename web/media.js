// The two inputs: the photo and the recording — chosen, dropped, recorded from the
// microphone (as WAV, which every server accepts) or taken from the built-in examples
// (web/examples/, see its README). The recording's length is measured here, before any
// upload: over the server's limit the page offers to use only the first part (it sends
// `duration`) instead of uploading and failing.
import { $, state } from './state.js';
import { t, language, formatSeconds, formatBytes } from './i18n.js';

export const EXAMPLES = {
  portraits: [
    { id: 'vertical', url: '/examples/portrait-vertical.jpg' },
    { id: 'square', url: '/examples/portrait-square.jpg' },
  ],
  voices: [
    { id: 'zh', url: '/examples/voice-zh.ogg', lang: 'zh-CN' },
    { id: 'en', url: '/examples/voice-en.ogg', lang: 'en' },
  ],
};

let onImage = () => {}, onAudio = () => {};
export function onInputsChange(image, audio) { onImage = image; onAudio = audio; }

export function setImage(file) {
  if (!file) return;
  state.image = file;
  state.imageSize = null;
  state.faceBox = null;
  const img = $('image-thumb');
  img.onload = () => {
    state.imageSize = { width: img.naturalWidth, height: img.naturalHeight };
    onImage();
  };
  img.onerror = () => { state.imageSize = null; onImage(); };
  img.src = URL.createObjectURL(file);
  $('image-name').textContent = `${file.name} · ${formatBytes(file.size)}`;
  $('image-preview').hidden = false;
  onImage();
}

export function setAudio(file) {
  if (!file) return;
  state.audio = file;
  state.audioSeconds = null;
  delete state.overrides.duration;
  const player = $('audio-player');
  const describe = () => {
    const parts = [file.name];
    if (state.audioSeconds) parts.push(formatSeconds(state.audioSeconds));
    parts.push(formatBytes(file.size));
    $('audio-name').textContent = parts.join(' · ');
  };
  player.onloadedmetadata = () => {
    state.audioSeconds = isFinite(player.duration) && player.duration > 0 ? player.duration : null;
    describe();
    renderLengthCheck();
    onAudio();
  };
  player.src = URL.createObjectURL(file);
  describe();
  $('audio-preview').hidden = false;
  renderLengthCheck();
  onAudio();
}

// ---------- too long: "use the first N minutes" ----------
export function overLimit() {
  const limit = state.limits && state.limits.max_audio_seconds;
  return !!(limit && state.audioSeconds && state.audioSeconds > limit + 0.05);
}

// Over the limit with no length within it chosen (here or with the Length slider).
export function needsLengthChoice() {
  const chosen = state.overrides.duration;
  return overLimit() && !(typeof chosen === 'number' && chosen <= state.limits.max_audio_seconds);
}

function limitPhrase(limit) {
  return limit % 60 === 0 && limit >= 60 ? t('length.first_minutes', { n: limit / 60 }) : t('length.first_seconds', { length: formatSeconds(limit) });
}

export function renderLengthCheck() {
  const notice = $('length-notice');
  if (!overLimit()) { notice.hidden = true; return; }
  const limit = state.limits.max_audio_seconds;
  notice.hidden = false;
  const trimmed = !needsLengthChoice();
  $('length-text').textContent = trimmed
    ? t('length.trimmed', { first: limitPhrase(state.overrides.duration), length: formatSeconds(state.audioSeconds) })
    : t('length.over', { length: formatSeconds(state.audioSeconds), limit: formatSeconds(limit) });
  $('use-first').hidden = trimmed;
  $('use-first').textContent = t('length.use_first', { first: limitPhrase(limit) });
}

export function useFirstPart() {
  const limit = state.limits.max_audio_seconds;
  state.overrides.duration = limit;
  renderLengthCheck();
  $('length-text').focus();
  onAudio();
}

// ---------- examples ----------
async function fetchAsFile(url, name) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`example ${url}: ${response.status}`);
  const blob = await response.blob();
  return new File([blob], name, { type: blob.type });
}

export async function useExamplePortrait(id) {
  const example = EXAMPLES.portraits.find((p) => p.id === id) || EXAMPLES.portraits[0];
  setImage(await fetchAsFile(example.url, t(`example.portrait.${example.id}.file`)));
}

export async function useExampleVoice(id) {
  const example = EXAMPLES.voices.find((v) => v.id === id) || EXAMPLES.voices[0];
  setAudio(await fetchAsFile(example.url, t(`example.voice.${example.id}.file`)));
}

// Both inputs at once, the voice in the page's language: one click, then Generate.
export async function useExamples() {
  const voice = EXAMPLES.voices.find((v) => v.lang === language()) || EXAMPLES.voices[0];
  await Promise.all([useExamplePortrait('vertical'), useExampleVoice(voice.id)]);
}

export function renderExampleButtons() {
  const portraits = $('example-portraits');
  portraits.replaceChildren(...EXAMPLES.portraits.map((p) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'example';
    button.dataset.example = p.id;
    const img = document.createElement('img');
    img.src = p.url;
    img.alt = '';
    const label = document.createElement('span');
    label.textContent = t(`example.portrait.${p.id}`);
    button.append(img, label);
    button.addEventListener('click', () => useExamplePortrait(p.id));
    return button;
  }));
  const voices = $('example-voices');
  voices.replaceChildren(...EXAMPLES.voices.map((v) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary small';
    button.dataset.example = v.id;
    button.textContent = t(`example.voice.${v.id}`);
    button.addEventListener('click', () => useExampleVoice(v.id));
    return button;
  }));
}

// ---------- drag and drop ----------
export function wireDrop(zoneId, inputId, setter) {
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

// ---------- microphone ----------
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

function recordLabel() {
  $('record-button').textContent = recorder ? t('record.stop') : t('record.start');
  $('record-button').setAttribute('aria-pressed', String(!!recorder));
}
export { recordLabel };

export async function toggleRecording() {
  const status = $('record-status');
  if (recorder) { recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) { status.textContent = t('record.unsupported'); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => chunks.push(e.data);
    recorder.onstop = async () => {
      stream.getTracks().forEach((track) => track.stop());
      recorder = null;
      recordLabel();
      try {
        const context = new AudioContext();
        const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
        setAudio(new File([encodeWav(decoded)], t('record.file'), { type: 'audio/wav' }));
        status.textContent = t('record.ready');
      } catch (_) { status.textContent = t('record.unreadable'); }
    };
    recorder.start();
    recordLabel();
    status.textContent = t('record.speak');
  } catch (_) { status.textContent = t('record.refused'); }
}
