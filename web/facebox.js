// Marking the face by hand (face_box, picture pixels) for faces the detector misses: drag a
// box with the pointer, or with the keyboard — the box starts on the picture's centre, arrow
// keys move it, Shift + arrow keys resize it, Enter keeps it, Escape removes it. The box is
// kept in picture pixels and drawn in percentages, so it stays put when the layout changes.
import { $, state } from './state.js';
import { t } from './i18n.js';

const STEP = 0.02;  // of the picture's width/height per key press
let onChange = () => {};
export function onFaceBoxChange(fn) { onChange = fn; }

function size() { return state.imageSize || { width: 1, height: 1 }; }

function draw() {
  const overlay = $('face-box-overlay');
  const box = state.faceBox;
  overlay.hidden = !box;
  $('clear-face').hidden = !box;
  if (!box) return;
  const { width, height } = size();
  Object.assign(overlay.style, {
    left: `${(box[0] / width) * 100}%`, top: `${(box[1] / height) * 100}%`,
    width: `${(box[2] / width) * 100}%`, height: `${(box[3] / height) * 100}%`,
  });
  overlay.setAttribute('aria-label', describe());
}

export function describe() {
  const box = state.faceBox;
  if (!box) return '';
  const { width, height } = size();
  const pct = (v, of) => Math.round((v / of) * 100);
  return t('facebox.position', { x: pct(box[0], width), y: pct(box[1], height), w: pct(box[2], width), h: pct(box[3], height) });
}

function set(box, announce) {
  const { width, height } = size();
  let [x, y, w, h] = box;
  w = Math.max(8, Math.min(width, w));
  h = Math.max(8, Math.min(height, h));
  x = Math.max(0, Math.min(width - w, x));
  y = Math.max(0, Math.min(height - h, y));
  state.faceBox = [x, y, w, h].map(Math.round);
  draw();
  if (announce) $('facebox-status').textContent = describe();
  onChange();
}

export function clearFaceBox() {
  state.faceBox = null;
  draw();
  $('image-wrap').classList.remove('marking');
  $('face-box-overlay').tabIndex = -1;
  onChange();
}

// Shows the box (on the centre when there is none yet) and gives it the keyboard focus.
export function startMarking(focus = true) {
  if (!state.image || !state.imageSize) return;
  const wrap = $('image-wrap');
  wrap.classList.add('marking');
  const overlay = $('face-box-overlay');
  overlay.tabIndex = 0;
  if (!state.faceBox) {
    const { width, height } = size();
    const side = Math.min(width, height) / 3;
    set([width / 2 - side / 2, height / 2 - side / 2, side, side], false);
  }
  draw();
  $('facebox-help').hidden = false;
  if (focus) overlay.focus();
}

function onKey(e) {
  if (!state.faceBox) return;
  const { width, height } = size();
  const dx = STEP * width, dy = STEP * height;
  const [x, y, w, h] = state.faceBox;
  const moves = e.shiftKey
    ? { ArrowRight: [x, y, w + dx, h], ArrowLeft: [x, y, w - dx, h], ArrowDown: [x, y, w, h + dy], ArrowUp: [x, y, w, h - dy] }
    : { ArrowRight: [x + dx, y, w, h], ArrowLeft: [x - dx, y, w, h], ArrowDown: [x, y + dy, w, h], ArrowUp: [x, y - dy, w, h] };
  if (moves[e.key]) {
    e.preventDefault();
    set(moves[e.key], true);
  } else if (e.key === 'Enter') {
    e.preventDefault();
    $('facebox-status').textContent = t('facebox.kept', { where: describe() });
    $('mark-face').focus();
  } else if (e.key === 'Escape') {
    e.preventDefault();
    clearFaceBox();
    $('facebox-status').textContent = t('facebox.removed');
    $('mark-face').focus();
  }
}

export function wireFaceBox() {
  const wrap = $('image-wrap'), img = $('image-thumb'), overlay = $('face-box-overlay');
  img.draggable = false;  // the browser's own image drag would swallow the pointer events
  let start = null;
  const point = (e) => {
    const r = img.getBoundingClientRect();
    const { width, height } = size();
    return [Math.max(0, Math.min(r.width, e.clientX - r.left)) * (width / r.width),
      Math.max(0, Math.min(r.height, e.clientY - r.top)) * (height / r.height)];
  };
  wrap.addEventListener('pointerdown', (e) => {
    if (!wrap.classList.contains('marking')) return;
    e.preventDefault();
    start = point(e);
    wrap.setPointerCapture(e.pointerId);
  });
  wrap.addEventListener('pointermove', (e) => {
    if (!start) return;
    const [x, y] = point(e);
    const box = [Math.min(x, start[0]), Math.min(y, start[1]), Math.abs(x - start[0]), Math.abs(y - start[1])];
    if (box[2] > 8 && box[3] > 8) set(box, false);
  });
  wrap.addEventListener('pointerup', () => {
    if (!start) return;
    start = null;
    if (state.faceBox) overlay.focus({ preventScroll: true });
  });
  overlay.addEventListener('keydown', onKey);
  $('mark-face').addEventListener('click', () => startMarking(true));
  $('clear-face').addEventListener('click', () => {
    clearFaceBox();
    $('facebox-status').textContent = t('facebox.removed');
    $('mark-face').focus();
  });
}

export function redrawFaceBox() { draw(); }
