// The page talks only to this server's own API (docs/api.md). Every call sends the token
// kept in this browser when there is one; answers are {status, ok, body, headers}, never a
// thrown HTTP error (a network failure still throws).
export function authHeaders() {
  const token = localStorage.getItem('sonic.token') || '';
  return token ? { Authorization: 'Bearer ' + token } : {};
}

export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { status: response.status, ok: response.ok, body: body || {}, headers: response.headers };
}

// GET that answers null on any failure: for what the page can do without.
export async function optional(path) {
  try {
    const r = await api(path);
    return r.ok ? r.body : null;
  } catch (_) { return null; }
}
