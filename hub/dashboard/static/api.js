// The hub's API as the pages use it: JSON requests with the stored key, and the
// live stream read with fetch (EventSource cannot send an Authorization header).

const KEY = "hub.apiKey";

export function apiKey() {
  return localStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/** What the pages need to know about this hub (/dashboard/config.json) over `defaults`. */
export async function hubConfig(defaults) {
  try {
    const response = await fetch("/dashboard/config.json");
    if (response.ok) return { ...defaults, ...(await response.json()) };
  } catch {
    // the defaults
  }
  return defaults;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function failure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = body.detail || body.title || "";
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, detail || `${response.status} ${response.statusText}`);
}

/** GET a JSON resource; `params` may hold arrays for repeated parameters. */
export async function get(path, params = {}) {
  const url = withParams(path, params);
  const response = await fetch(url, { headers: headers() });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Every item of a paged list (follows next_cursor). */
export async function all(path, params = {}, most = 20000) {
  const items = [];
  let cursor;
  do {
    const page = await get(path, { ...params, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < most);
  return items;
}

async function send(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export function post(path, body) {
  return send("POST", path, body);
}

export function patch(path, body) {
  return send("PATCH", path, body);
}

function withParams(path, params) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
  }
  return url;
}

/** Fetch a file with the stored key and hand it to the browser as a download. */
export async function download(path, params, filename) {
  const response = await fetch(withParams(path, params), { headers: headers({ Accept: "text/csv" }) });
  if (!response.ok) throw await failure(response);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

/**
 * Follow /api/v1/stream with the given filters, calling onEvent(type, data) for each
 * event and onState("live" | "down" | "closed") as the connection changes. Reconnects
 * after a pause. Returns a function that stops it.
 */
export function live(params, onEvent, onState = () => {}) {
  let stopped = false;
  let controller;
  const url = new URL("/api/v1/stream", location.origin);
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
  }

  async function once() {
    controller = new AbortController();
    const response = await fetch(url, {
      headers: headers({ Accept: "text/event-stream" }),
      signal: controller.signal,
      cache: "no-store",
    });
    if (!response.ok) throw await failure(response);
    onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) {
          try {
            onEvent(type, JSON.parse(data.join("\n")));
          } catch (err) {
            console.error("live event not handled", err);
          }
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) break;
        console.warn("live stream:", err.message);
      }
      if (stopped) break;
      onState("down");
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    onState("closed");
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
