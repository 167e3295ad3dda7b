// This browser's recent jobs (localStorage, newest first, at most 30): each row shows the
// photo's name, when it was made, its true state from the server (refreshed when the page
// opens, so a job finished while the tab was closed says so), a thumbnail of the video's
// first frame, and "expired" in plain words once the server no longer keeps the video.
import { $, state } from './state.js';
import { t, formatDate, formatSeconds } from './i18n.js';
import { api } from './api.js';

const KEY = 'sonic.history';
const FINAL = ['succeeded', 'failed', 'canceled', 'gone'];
let onOpen = () => {};
export function onHistoryOpen(fn) { onOpen = fn; }

export function history() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(list) ? list.filter((j) => j && typeof j.id === 'string') : [];
  } catch (_) { return []; }
}

function save(list) {
  try { localStorage.setItem(KEY, JSON.stringify(list.slice(0, 30))); } catch (_) {
    // Full storage: drop the thumbnails, which are the bulk, and keep the rows.
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, 30).map(({ thumb, ...rest }) => rest)));
  }
}

export function historyEntry(id) { return history().find((j) => j.id === id) || null; }

export function remember(id, patch) {
  if (!id) return;
  const list = history();
  const at = list.findIndex((j) => j.id === id);
  if (at >= 0) list[at] = { ...list[at], ...patch };
  else list.unshift({ id, status: 'queued', created: Date.now(), name: '', ...patch });
  save(list);
  renderHistory();
}

function forget(id) {
  save(history().filter((j) => j.id !== id));
  renderHistory();
}

export function statusText(job) {
  if (job.status === 'succeeded' && job.expired) return t('history.expired');
  return t(`status.${job.status}`);
}

function retentionText() {
  const hours = state.limits && state.limits.retention_hours;
  if (!hours) return '';
  let time;
  if (hours < 1) time = formatSeconds(hours * 3600);
  else if (hours % 24 === 0 && hours >= 48) time = t('unit.days', { n: hours / 24 });
  else time = t('unit.hours', { n: Math.round(hours * 10) / 10 });
  return t('history.retention', { time });
}

export function renderHistory() {
  const list = history(), box = $('history');
  box.replaceChildren();
  $('history-empty').hidden = list.length > 0;
  $('retention-note').textContent = retentionText();
  $('retention-note').hidden = !retentionText();
  for (const job of list) {
    const li = document.createElement('li');
    li.dataset.job = job.id;
    li.dataset.status = job.expired ? 'expired' : job.status;
    const thumb = document.createElement(job.thumb ? 'img' : 'span');
    thumb.className = 'thumb';
    if (job.thumb) { thumb.src = job.thumb; thumb.alt = ''; }
    thumb.setAttribute('aria-hidden', 'true');
    const text = document.createElement('div');
    text.className = 'history-text';
    const name = document.createElement('span');
    name.className = 'history-name';
    name.textContent = job.name || t('history.unnamed');
    const when = document.createElement('span');
    when.className = 'history-when';
    when.textContent = formatDate(job.created);
    const st = document.createElement('span');
    st.className = 'state';
    st.textContent = statusText(job);
    text.append(name, when, st);
    if (job.status === 'succeeded' && job.expired) {
      const why = document.createElement('span');
      why.className = 'history-note';
      why.textContent = t('history.expired_long');
      text.append(why);
    }
    const actions = document.createElement('div');
    actions.className = 'history-actions';
    const label = `${job.name || t('history.unnamed')}, ${formatDate(job.created)}`;
    if (!(job.status === 'succeeded' && job.expired) && job.status !== 'gone') {
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'secondary small open';
      open.textContent = FINAL.includes(job.status) ? t('history.open') : t('history.follow');
      open.setAttribute('aria-label', `${open.textContent}: ${label}`);
      open.addEventListener('click', () => onOpen(job.id));
      actions.append(open);
    }
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link small remove';
    remove.textContent = t('history.remove');
    remove.setAttribute('aria-label', `${t('history.remove')}: ${label}`);
    remove.addEventListener('click', () => {
      const next = li.nextElementSibling || li.previousElementSibling;
      forget(job.id);
      const target = next && $('history').querySelector(`li[data-job="${CSS.escape(next.dataset.job)}"] button`);
      (target || $('history-title')).focus();
    });
    actions.append(remove);
    li.append(thumb, text, actions);
    box.appendChild(li);
  }
}

// The first frame of a finished video, small, kept with the row.
function captureThumbnail(id, video) {
  try {
    if (!id || !video.videoWidth) return;
    const canvas = document.createElement('canvas');
    canvas.height = 64;
    canvas.width = Math.max(1, Math.round((64 * video.videoWidth) / video.videoHeight));
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    const entry = historyEntry(id);
    if (entry && !entry.thumb) remember(id, { thumb: canvas.toDataURL('image/jpeg', 0.7) });
  } catch (_) { /* a thumbnail is a nicety */ }
}

// A video element of its own: a frame is only certain to be drawable after a seek has
// completed ('loadeddata' alone can give a black canvas), and the result's player is left alone.
export function thumbnailFrom(id, url) {
  const entry = historyEntry(id);
  if (!entry || entry.thumb) return;
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'auto';
  video.playsInline = true;
  video.onloadeddata = () => { video.currentTime = 0.04; };
  video.onseeked = () => { captureThumbnail(id, video); video.removeAttribute('src'); video.load(); };
  video.src = url;
}

// Asks the server for each row's true state (a job may have finished, failed or expired
// while the page was closed). The job being watched right now is left to job.js.
export async function refreshHistory() {
  const rows = history().filter((j) => j.status !== 'gone' && !(j.status === 'succeeded' && j.expired));
  await Promise.all(rows.map(async (job) => {
    if (job.id === state.jobId && !state.finished) return;
    let r;
    try { r = await api(`/api/jobs/${job.id}`); } catch (_) { return; }
    if (r.status === 404) { remember(job.id, { status: 'gone' }); return; }
    if (!r.ok) return;
    const status = r.body.status || r.body.state;
    remember(job.id, { status, expired: !!r.body.output_expired });
    if (status === 'succeeded' && r.body.video_url && !job.thumb) thumbnailFrom(job.id, r.body.video_url);
  }));
}

// Rows of jobs still queued or running (started in another tab, or before a reload that
// reconnected to a different one) are asked about again every few seconds while shown.
export function keepHistoryFresh() {
  setInterval(() => {
    if (document.hidden) return;
    const waiting = history().some((j) => !FINAL.includes(j.status) && !(j.id === state.jobId && !state.finished));
    if (waiting) refreshHistory();
  }, 5000);
}
