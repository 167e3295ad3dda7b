// Framing: how much of the picture the video shows (face close-up / head and shoulders /
// whole picture) and its shape (square / vertical 9:16 / horizontal 16:9), with a small
// preview of the crop on the chosen photo. The choices map to parameters: the shot to
// expand_ratio (and full_frame for the whole picture), the shape to aspect_ratio — sent only
// when the chosen engine accepts aspect_ratio. The server finds the face when the video is
// made; the page has no face finder, so the preview centres the crop on the face box the
// person marked, or on the picture's centre and says it is approximate.
import { $, state } from './state.js';
import { t } from './i18n.js';
import { effectiveValue, ignoredReason, chosenEngine } from './settings.js';

const SHOTS = { close: {}, shoulders: { expand_ratio: 1.0, full_frame: false }, whole: { full_frame: true } };
const SHAPES = { '1:1': 1, '9:16': 9 / 16, '16:9': 16 / 9 };

export function aspectSupported() {
  const engine = chosenEngine();
  if (!engine || !engine.parameters || !Array.isArray(engine.parameters.accepted)) return false;
  return engine.parameters.accepted.includes('aspect_ratio') && !ignoredReason('aspect_ratio');
}

// The parameters the framing choice stands for (settings.js layers them under the person's own).
export function framingValues() {
  const values = { ...(SHOTS[state.framing.shot] || {}) };
  if (aspectSupported() && state.framing.shot !== 'whole') values.aspect_ratio = state.framing.shape;
  return values;
}

export function loadFraming() {
  try {
    const saved = JSON.parse(localStorage.getItem('sonic.framing') || 'null');
    if (saved && SHOTS[saved.shot] && SHAPES[saved.shape]) state.framing = saved;
  } catch (_) { /* keep the default */ }
}

let onChange = () => {};
export function onFramingChange(fn) { onChange = fn; }

export function wireFraming() {
  for (const radio of document.querySelectorAll('input[name="shot"], input[name="shape"]')) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      state.framing = { ...state.framing, [radio.name]: radio.value };
      if (radio.name === 'shot') { delete state.overrides.expand_ratio; delete state.overrides.full_frame; }
      localStorage.setItem('sonic.framing', JSON.stringify(state.framing));
      renderFraming();
      onChange();
    });
  }
}

export function renderFraming() {
  for (const radio of document.querySelectorAll('input[name="shot"]')) radio.checked = radio.value === state.framing.shot;
  const supported = aspectSupported();
  const whole = state.framing.shot === 'whole';
  for (const radio of document.querySelectorAll('input[name="shape"]')) {
    radio.checked = supported ? radio.value === state.framing.shape : radio.value === '1:1';
    radio.disabled = !supported || whole;
  }
  const note = !supported ? t('framing.shape_unavailable') : whole ? t('framing.shape_whole') : '';
  $('shape-note').hidden = !note;
  $('shape-note').textContent = note;
  drawPreview();
}

// The crop in picture pixels, as the engine will roughly make it.
export function cropRect(width, height, face, expand, shape, fullFrame) {
  const ratio = SHAPES[shape] || 1;
  const [fx, fy, fw, fh] = face;
  const cx = fx + fw / 2, cy = fy + fh / 2;
  if (fullFrame) return { x: 0, y: 0, w: width, h: height };
  const side = Math.max(fw, fh) * (1 + 2 * Math.max(0, expand));
  let w, h;
  if (ratio < 1) { w = side; h = side / ratio; } else { h = side; w = side * ratio; }
  const fit = Math.min(1, width / w, height / h);  // too big for the picture: shrink, never pad
  w *= fit; h *= fit;
  // Portrait shapes put the eyes about a third from the top; others centre the face.
  let x = cx - w / 2;
  let y = ratio < 1 ? cy - h * 0.4 : cy - h / 2;
  x = Math.max(0, Math.min(width - w, x));
  y = Math.max(0, Math.min(height - h, y));
  return { x, y, w, h };
}

export function drawPreview() {
  const canvas = $('crop-canvas');
  const img = $('image-thumb');
  const figure = $('crop-preview');
  if (!state.image || !state.imageSize || !img.complete || !img.naturalWidth) {
    figure.hidden = true;
    return;
  }
  figure.hidden = false;
  const { width, height } = state.imageSize;
  const exact = !!state.faceBox;
  const guess = Math.min(width, height) * 0.3;
  const face = state.faceBox || [width / 2 - guess / 2, height / 2 - guess / 2, guess, guess];
  const shape = aspectSupported() && state.framing.shot !== 'whole' ? state.framing.shape : '1:1';
  const crop = cropRect(width, height, face, Number(effectiveValue('expand_ratio')), shape, !!effectiveValue('full_frame'));
  const scale = Math.min(220 / width, 220 / height);
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0, canvas.width, canvas.height);
  g.fillStyle = 'rgba(0, 0, 0, 0.55)';
  const [x, y, w, h] = [crop.x * scale, crop.y * scale, crop.w * scale, crop.h * scale];
  g.fillRect(0, 0, canvas.width, y);
  g.fillRect(0, y + h, canvas.width, canvas.height - y - h);
  g.fillRect(0, y, x, h);
  g.fillRect(x + w, y, canvas.width - x - w, h);
  g.strokeStyle = '#f59e0b';
  g.lineWidth = 2;
  g.setLineDash(exact ? [] : [6, 4]);
  g.strokeRect(x + 1, y + 1, w - 2, h - 2);
  canvas.dataset.crop = [crop.x, crop.y, crop.w, crop.h].map(Math.round).join(',');
  const shotName = t(`framing.${state.framing.shot}`);
  const shapeName = state.framing.shot === 'whole' ? t('framing.shape.original') : t(`framing.shape.${shape}`);
  canvas.setAttribute('aria-label', t('framing.preview_label', { shot: shotName, shape: shapeName }));
  $('crop-note').textContent = exact ? t('framing.preview_exact') : t('framing.preview_approx');
}
