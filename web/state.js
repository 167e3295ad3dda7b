// The page's one shared state object and the element lookup every module uses. Modules
// change the state and call each other's render functions; nothing else holds page state.
export const $ = (id) => document.getElementById(id);

export const state = {
  image: null,          // File (chosen, dropped or an example)
  imageSize: null,      // {width, height} of the chosen picture, once decoded
  audio: null,          // File
  audioSeconds: null,   // the recording's length measured in the browser (null = unknown)
  preset: 'natural',
  presets: [],
  overrides: {},        // advanced settings the person changed (DESIGN §4 names)
  framing: { shot: 'close', shape: '1:1' },
  faceBox: null,        // [x, y, w, h] in picture pixels, marked by the person
  engines: [],          // GET /api/engines, with state
  engine: '',           // chosen engine name ('' = the server's default)
  limits: null,         // GET /api/limits
  jobId: null,
  finished: true,
  error: null,          // the error on show {code, field, ...}, re-worded on a language switch
};
