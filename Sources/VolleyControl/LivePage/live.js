// Volley's live page: one row per board, from GET /v1/clients and GET /v1/transfers, then
// kept current from GET /v1/events (Server-Sent Events, read with fetch so that the bearer
// token can travel in the Authorization header). Plain JS, nothing fetched from elsewhere.
//
// The token, when the control plane wants one, is asked for in a form and kept in this tab's
// sessionStorage; it never goes into a URL, a query string or the console.
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  /** Seconds without progress after which a transfer is shown as stalled (`?stall=SECONDS`). */
  const stallSeconds = positive(params.get('stall'), 5);
  const FETCHES_SHOWN = 4;
  const FETCHES_KEPT = 32;
  const RENDER_INTERVAL_MS = 250;
  /** The server sends a keep-alive comment every 15 s: a stream silent for longer is dead. */
  const STREAM_SILENCE_MS = 40000;
  const TOKEN_KEY = 'volley-control-token';
  const GOOD = new Set(['delivered', 'size_probe']);
  const RANK = { failed: 0, stalled: 1, active: 2, ok: 3 };

  /** Boards by key (MAC when known, else IP address). */
  const boards = new Map();
  /** Transfers in flight by client ("ip:port"). */
  const transfers = new Map();
  /** Table rows by board key, and the order they are in now. */
  const rows = new Map();
  let order = [];
  let orderDirty = true;
  let filterText = '';
  let filterDirty = false;
  let lastEventId = null;
  let needSnapshot = true;
  let serverOffsetMs = 0;
  let memoryToken = null;
  let tokenGiven = null;
  let renderScheduled = false;
  let lastRender = 0;

  const $ = (id) => document.getElementById(id);
  const body = $('board-rows');

  class NeedsToken extends Error {
    constructor(refused) {
      super('the control plane needs its bearer token');
      this.refused = refused;
    }
  }
  class Resync extends Error {}

  // ---- helpers --------------------------------------------------------------------------

  function positive(text, fallback) {
    const value = Number(text);
    return text !== null && Number.isFinite(value) && value > 0 ? value : fallback;
  }

  function number(value) {
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  }

  const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function esc(text) {
    return String(text ?? '').replace(/[&<>"']/g, (c) => escapes[c]);
  }

  /** "1.2.3.4" of "1.2.3.4:69", "::1" of "[::1]:69". */
  function addressOf(client) {
    if (client.startsWith('[')) {
      const end = client.indexOf(']');
      return end > 0 ? client.slice(1, end) : client;
    }
    const colon = client.lastIndexOf(':');
    return colon > 0 && client.indexOf(':') === colon ? client.slice(0, colon) : client;
  }

  function parseTime(text) {
    const ms = Date.parse(text || '');
    return Number.isFinite(ms) ? ms : Date.now() + serverOffsetMs;
  }

  /** How much of a transfer has arrived: what the client acknowledged, else what was sent. */
  function delivered(fields) {
    return number(fields.acknowledged) ?? number(fields.bytes);
  }

  function size(bytes) {
    if (bytes === null || bytes === undefined) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)}\u00a0${units[unit]}`;
  }

  function clock(ms) {
    const date = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    const today = new Date();
    if (date.toDateString() === today.toDateString()) return time;
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- the token ------------------------------------------------------------------------

  function readToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken;
    } catch {
      return memoryToken;
    }
  }

  function storeToken(token) {
    memoryToken = token;
    try {
      if (token === null) sessionStorage.removeItem(TOKEN_KEY);
      else sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      // No session storage (disabled): the token lives in this page only.
    }
  }

  /** Shows the token form; resolves once a token was entered. */
  function askForToken(refused) {
    setConnection('needs-token', 'needs token');
    $('token-note').textContent = refused ? 'That token was refused.' : '';
    $('token-form').hidden = false;
    $('token-input').focus();
    return new Promise((resolve) => {
      tokenGiven = resolve;
    });
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('token-input');
    const token = input.value.trim();
    if (!token) return;
    input.value = '';
    storeToken(token);
    $('token-form').hidden = true;
    if (tokenGiven) tokenGiven();
    tokenGiven = null;
  });

  /** GET `path` with the token; throws NeedsToken on 401. */
  async function api(path, headers = {}, signal = undefined) {
    const all = new Headers(headers);
    const token = readToken();
    if (token) all.set('Authorization', `Bearer ${token}`);
    const response = await fetch(path, { headers: all, signal, cache: 'no-store', credentials: 'omit', redirect: 'error' });
    if (response.status === 401) {
      if (token) storeToken(null);
      throw new NeedsToken(Boolean(token));
    }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    const date = Date.parse(response.headers.get('date') || '');
    if (Number.isFinite(date)) {
      const offset = date - Date.now();
      serverOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
    }
    return response;
  }

  // ---- the model ------------------------------------------------------------------------

  function boardFor(key, address) {
    let board = boards.get(key);
    if (!board && key !== address && boards.has(address)) {
      // First seen by address, now known by MAC: the same board under its better name.
      board = boards.get(address);
      boards.delete(address);
      dropRow(address);
      board.key = key;
      boards.set(key, board);
      for (const client of board.inFlight) {
        const transfer = transfers.get(client);
        if (transfer) transfer.board = key;
      }
    }
    if (!board) {
      board = {
        key, address, mac: '', lastSeen: 0, lastSeenText: '', fetches: [], lastError: '',
        failed: false, lastOutcome: '', inFlight: new Set(), dirty: true,
      };
      boards.set(key, board);
    }
    orderDirty = true;
    return board;
  }

  function seen(board, time) {
    const ms = parseTime(time);
    if (ms >= board.lastSeen) {
      board.lastSeen = ms;
      board.lastSeenText = time || '';
    }
  }

  function isStalled(transfer, now) {
    return now - transfer.lastChange >= stallSeconds * 1000;
  }

  function startTransfer(board, fields) {
    const old = transfers.get(fields.client);
    if (old) endTransfer(old);
    const now = Date.now();
    const transfer = {
      client: fields.client, board: board.key, id: fields.id ?? null, file: fields.file || '', served: fields.served || '',
      size: fields.size ?? null, bytes: fields.bytes ?? null, retransmissions: fields.retransmissions ?? 0,
      lastChange: fields.lastChange ?? now, rate: null, sampleBytes: fields.bytes ?? 0, sampleAt: now, stalled: false,
    };
    transfers.set(transfer.client, transfer);
    board.inFlight.add(transfer.client);
    return transfer;
  }

  function endTransfer(transfer) {
    transfers.delete(transfer.client);
    const board = boards.get(transfer.board);
    if (board) {
      board.inFlight.delete(transfer.client);
      board.dirty = true;
    }
  }

  function addFetch(board, fetch) {
    if (board.fetches.some((f) => f.time === fetch.time && f.file === fetch.file && f.outcome === fetch.outcome)) return;
    board.fetches.push(fetch);
    if (board.fetches.length > FETCHES_KEPT) board.fetches.splice(0, board.fetches.length - FETCHES_KEPT);
    board.lastOutcome = fetch.outcome;
    board.failed = !GOOD.has(fetch.outcome);
    if (board.failed) board.lastError = `${fetch.file || 'request'}: ${fetch.outcome === 'refused' ? 'refused, ' : ''}${fetch.reason || fetch.outcome}`;
  }

  /** Applies one event of the stream. */
  function apply(event) {
    if (!event || typeof event.client !== 'string') return;
    const address = event.address || addressOf(event.client);
    const board = boardFor(event.mac || address, address);
    board.address = address;
    if (event.mac) board.mac = event.mac;
    seen(board, event.time);
    const now = Date.now();
    switch (event.type) {
      case 'started': {
        const known = transfers.get(event.client);
        if (known && known.id !== null && known.id === event.id) break;
        startTransfer(board, {
          client: event.client, id: event.id ?? null, file: event.file, served: event.served,
          size: number(event.size) ?? number(event.options?.tsize), bytes: number(event.bytes),
          retransmissions: number(event.retransmissions) ?? 0,
        });
        break;
      }
      case 'progress': {
        const transfer = transfers.get(event.client)
          || startTransfer(board, { client: event.client, file: event.file, served: event.served });
        const bytes = delivered(event);
        if (bytes !== null && bytes > (transfer.bytes ?? -1)) {
          const seconds = (now - transfer.sampleAt) / 1000;
          if (transfer.bytes !== null && seconds > 0.05) {
            const instant = (bytes - transfer.sampleBytes) / seconds;
            transfer.rate = transfer.rate === null ? instant : 0.5 * transfer.rate + 0.5 * instant;
          } else if (number(event.elapsed_s) > 0) {
            transfer.rate = bytes / event.elapsed_s;
          }
          transfer.sampleBytes = bytes;
          transfer.sampleAt = now;
          transfer.bytes = bytes;
          transfer.lastChange = now;
        } else if (bytes === null) {
          transfer.lastChange = now;
        }
        transfer.size = number(event.size) ?? transfer.size;
        transfer.retransmissions = number(event.retransmissions) ?? transfer.retransmissions;
        if (event.served) transfer.served = event.served;
        break;
      }
      case 'finished': {
        const transfer = transfers.get(event.client);
        if (transfer) endTransfer(transfer);
        const bytes = number(event.bytes);
        const duration = number(event.duration_s);
        addFetch(board, {
          client: event.client, file: event.file || '', outcome: event.outcome || 'finished', reason: event.reason || '',
          bytes, duration, time: event.time || '', retransmissions: number(event.retransmissions),
        });
        break;
      }
      case 'refused':
        addFetch(board, {
          client: event.client, file: event.file || '', outcome: 'refused', reason: event.reason || '', bytes: null,
          duration: null, time: event.time || '', retransmissions: null,
        });
        break;
      default:
        break;
    }
    board.dirty = true;
    orderDirty = true;
    schedule();
  }

  /** Replaces the whole model with GET /v1/clients and GET /v1/transfers. */
  async function loadSnapshot(signal) {
    const clients = await (await api('/v1/clients', {}, signal)).json();
    const listed = await (await api('/v1/transfers', {}, signal)).json();
    boards.clear();
    transfers.clear();
    rows.clear();
    order = [];
    body.replaceChildren();
    const now = Date.now();
    const localTime = (text) => parseTime(text) - serverOffsetMs;
    for (const entry of clients) {
      const address = entry.client;
      const board = boardFor(entry.mac || address, address);
      board.mac = entry.mac || '';
      seen(board, entry.last_seen);
      board.fetches = (entry.fetches || []).map((f) => ({
        client: null, file: f.file, outcome: f.outcome, reason: f.reason || '', bytes: number(f.bytes),
        duration: number(f.duration_s), time: f.time, retransmissions: null,
      }));
      board.lastError = entry.last_error || '';
      // A refusal is only in last_error: it came after the last fetch when the board was seen
      // later than that fetch ended with nothing in flight.
      const last = board.fetches[board.fetches.length - 1];
      const refusal = /^(.*): refused, (.*)$/.exec(board.lastError);
      const inFlight = entry.in_flight || [];
      if (refusal && (!last || (entry.last_seen > last.time && inFlight.length === 0))) {
        board.fetches.push({
          client: null, file: refusal[1], outcome: 'refused', reason: refusal[2], bytes: null, duration: null,
          time: entry.last_seen, retransmissions: null,
        });
      }
      const latest = board.fetches[board.fetches.length - 1];
      board.lastOutcome = latest ? latest.outcome : '';
      board.failed = Boolean(latest) && !GOOD.has(latest.outcome);
      for (const t of inFlight) {
        startTransfer(board, {
          client: t.client, id: t.id ?? null, file: t.file, served: t.served, size: number(t.size) ?? number(t.tsize),
          bytes: delivered(t), retransmissions: number(t.retransmissions) ?? 0,
          lastChange: delivered(t) !== null ? now : Math.min(now, localTime(t.started)),
        });
      }
    }
    // /v1/transfers may know more of each transfer (bytes so far, size, MAC).
    for (const t of listed) {
      const address = addressOf(t.client);
      const board = boardFor(t.mac || address, address);
      seen(board, t.started);
      const known = transfers.get(t.client);
      if (known) {
        known.bytes = delivered(t) ?? known.bytes;
        known.size = number(t.size) ?? number(t.tsize) ?? known.size;
        known.retransmissions = number(t.retransmissions) ?? known.retransmissions;
        known.served = t.served || known.served;
      } else {
        startTransfer(board, {
          client: t.client, id: t.id ?? null, file: t.file, served: t.served, size: number(t.size) ?? number(t.tsize),
          bytes: delivered(t), retransmissions: number(t.retransmissions) ?? 0,
          lastChange: delivered(t) !== null ? now : Math.min(now, localTime(t.started)),
        });
      }
    }
    orderDirty = true;
    schedule();
  }

  // ---- the event stream -----------------------------------------------------------------

  /** A Server-Sent Events parser: feed it text, it calls `onMessage({id, event, data})`. */
  function sseParser(onMessage) {
    let pending = '';
    let data = [];
    let type = '';
    let id = null;
    return (chunk) => {
      pending += chunk;
      // A "\r" at the very end may be the first half of "\r\n": keep it for the next chunk.
      const cut = pending.endsWith('\r') ? pending.length - 1 : pending.length;
      const lines = pending.slice(0, cut).replace(/\r\n?/g, '\n').split('\n');
      pending = lines.pop() + pending.slice(cut);
      for (const line of lines) {
        if (line === '') {
          if (data.length > 0) onMessage({ id, event: type || 'message', data: data.join('\n') });
          data = [];
          type = '';
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
    };
  }

  /** One connection to GET /v1/events: returns when the stream ends; throws on errors. */
  async function stream() {
    const controller = new AbortController();
    const headers = lastEventId === null ? {} : { 'Last-Event-ID': String(lastEventId) };
    let lastData = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastData > STREAM_SILENCE_MS) controller.abort();
    }, 5000);
    try {
      const response = await api('/v1/events', headers, controller.signal);
      const resumedAfter = needSnapshot ? null : lastEventId;
      let first = true;
      let dropped = false;
      let resync = false;
      let queue = needSnapshot ? [] : null;
      const parse = sseParser((message) => {
        if (message.event === 'dropped') {
          dropped = true;
          return;
        }
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        const id = message.id !== null && /^\d+$/.test(message.id) ? Number(message.id) : null;
        if (id !== null) {
          // Resumed: the first event must follow the last one seen, or some were lost
          // (the server keeps the latest 10,000) or the server restarted.
          if (first && resumedAfter !== null && (id <= resumedAfter || id > resumedAfter + 1)) resync = true;
          first = false;
          lastEventId = id;
        }
        if (resync) return;
        if (queue) queue.push(event);
        else apply(event);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const reading = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          lastData = Date.now();
          parse(value);
          if (dropped || resync) {
            controller.abort();
            return;
          }
        }
      })();
      reading.catch(() => {});
      if (queue) {
        await loadSnapshot(controller.signal);
        needSnapshot = false;
        for (const event of queue) apply(event);
        queue = null;
      }
      setConnection('live', 'live');
      try {
        await reading;
      } catch (error) {
        if (!dropped && !resync) throw error;
      }
      if (resync) throw new Resync();
    } finally {
      clearInterval(watchdog);
      controller.abort();
    }
  }

  async function run() {
    let delay = 1000;
    for (;;) {
      try {
        setConnection(needSnapshot ? 'connecting' : 'reconnecting', needSnapshot ? 'connecting' : 'reconnecting');
        await stream();
        delay = 1000;
      } catch (error) {
        if (error instanceof NeedsToken) {
          await askForToken(error.refused);
          continue;
        }
        if (error instanceof Resync) {
          needSnapshot = true;
          lastEventId = null;
          continue;
        }
      }
      // Without an event id to resume from, what happened meanwhile is only in a new snapshot.
      if (lastEventId === null) needSnapshot = true;
      setConnection('reconnecting', 'reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
  }

  function setConnection(state, text) {
    const node = $('connection');
    if (node.dataset.connection !== state) {
      node.dataset.connection = state;
      node.textContent = text;
    }
  }

  // ---- rendering ------------------------------------------------------------------------

  function boardState(board, now) {
    if (board.failed) return 'failed';
    let active = false;
    for (const client of board.inFlight) {
      const transfer = transfers.get(client);
      if (!transfer) continue;
      if (isStalled(transfer, now)) return 'stalled';
      active = true;
    }
    return active ? 'active' : 'ok';
  }

  function transferHTML(transfer, now) {
    const stalled = isStalled(transfer, now);
    const known = transfer.size !== null && transfer.size > 0 && transfer.bytes !== null;
    const progress = known
      ? `<progress max="${transfer.size}" value="${Math.min(transfer.bytes, transfer.size)}"></progress>`
      : '<progress></progress>';
    const figures = [];
    if (transfer.bytes !== null) figures.push(known ? `${size(transfer.bytes)} of ${size(transfer.size)}` : size(transfer.bytes));
    else if (transfer.size !== null) figures.push(size(transfer.size));
    if (transfer.rate !== null && !stalled) figures.push(`${size(Math.round(transfer.rate))}/s`);
    if (transfer.retransmissions > 0) figures.push(`${transfer.retransmissions} retransmitted`);
    const idle = Math.floor((now - transfer.lastChange) / 1000);
    const marker = stalled ? ` <span class="marker" data-stalled-for="${idle}">stalled ${idle} s</span>` : '';
    const served = transfer.served && transfer.served !== transfer.file ? ` title="served as ${esc(transfer.served)}"` : '';
    return `<div class="transfer${stalled ? ' stalled' : ''}" data-transfer="${esc(transfer.client)}" data-outcome="in_flight"`
      + ` data-stalled="${stalled}"><span class="file"${served}>${esc(transfer.file)}</span>${progress}`
      + `<span class="figures">${esc(figures.join(' · '))}${marker}</span></div>`;
  }

  function fetchHTML(fetch) {
    const good = GOOD.has(fetch.outcome);
    const parts = [];
    if (fetch.bytes !== null && fetch.outcome !== 'refused') parts.push(size(fetch.bytes));
    if (fetch.duration !== null && fetch.duration > 0 && fetch.bytes) parts.push(`${size(Math.round(fetch.bytes / fetch.duration))}/s`);
    if (fetch.retransmissions) parts.push(`${fetch.retransmissions} retransmitted`);
    const client = fetch.client ? ` data-transfer="${esc(fetch.client)}"` : '';
    const title = `${fetch.time}${!good && fetch.reason ? `: ${fetch.reason}` : ''}`;
    return `<li data-fetch data-outcome="${esc(fetch.outcome)}"${client} title="${esc(title)}">`
      + `<span class="outcome ${good ? 'good' : 'bad'}">${esc(fetch.outcome)}</span> ${esc(fetch.file)}`
      + `${parts.length ? ` <span class="muted">${esc(parts.join(' · '))}</span>` : ''}</li>`;
  }

  function makeRow(key) {
    const row = document.createElement('tr');
    row.dataset.board = key;
    row.innerHTML = '<td class="board"></td><td class="state"></td><td class="seen"></td><td class="flight"></td>'
      + '<td class="recent"></td><td class="last-error"></td>';
    row.cache = ['', '', '', '', '', ''];
    rows.set(key, row);
    return row;
  }

  function dropRow(key) {
    const row = rows.get(key);
    if (row) row.remove();
    rows.delete(key);
    order = order.filter((k) => k !== key);
  }

  function setCell(row, index, html) {
    if (row.cache[index] !== html) {
      row.cache[index] = html;
      row.cells[index].innerHTML = html;
    }
  }

  function matches(board) {
    if (!filterText) return true;
    if (board.key.toLowerCase().includes(filterText) || board.address.toLowerCase().includes(filterText)) return true;
    for (const client of board.inFlight) if ((transfers.get(client)?.file || '').toLowerCase().includes(filterText)) return true;
    return board.fetches.some((f) => f.file.toLowerCase().includes(filterText));
  }

  function renderBoard(board, now) {
    const row = rows.get(board.key) || makeRow(board.key);
    const state = boardState(board, now);
    board.state = state;
    if (row.dataset.state !== state) row.dataset.state = state;
    if (row.dataset.lastOutcome !== board.lastOutcome) row.dataset.lastOutcome = board.lastOutcome;
    if (row.dataset.address !== board.address) row.dataset.address = board.address;
    const name = board.mac && board.mac !== board.address ? `${esc(board.key)} <span class="muted">${esc(board.address)}</span>` : esc(board.key);
    setCell(row, 0, name);
    setCell(row, 1, esc(state));
    setCell(row, 2, `<span title="${esc(board.lastSeenText)}">${esc(clock(board.lastSeen - serverOffsetMs))}</span>`);
    const flying = [...board.inFlight].map((client) => transfers.get(client)).filter(Boolean);
    setCell(row, 3, flying.map((t) => transferHTML(t, now)).join(''));
    const recent = board.fetches.slice(-FETCHES_SHOWN).reverse();
    setCell(row, 4, recent.length ? `<ul class="fetches">${recent.map(fetchHTML).join('')}</ul>` : '');
    setCell(row, 5, board.lastError ? `<span class="${board.failed ? 'error' : 'muted'}">${esc(board.lastError)}</span>` : '');
    row.hidden = !matches(board);
    board.dirty = false;
  }

  function schedule() {
    if (renderScheduled) return;
    renderScheduled = true;
    const wait = Math.max(0, RENDER_INTERVAL_MS - (performance.now() - lastRender));
    setTimeout(() => {
      if (document.hidden) render();
      else requestAnimationFrame(render);
    }, wait);
  }

  function render() {
    renderScheduled = false;
    lastRender = performance.now();
    const now = Date.now();
    for (const board of boards.values()) {
      if (board.dirty || filterDirty || !rows.has(board.key)) renderBoard(board, now);
    }
    filterDirty = false;
    if (orderDirty) {
      orderDirty = false;
      const sorted = [...boards.values()].sort(
        (a, b) => RANK[a.state] - RANK[b.state] || b.lastSeen - a.lastSeen || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const keys = sorted.map((b) => b.key);
      // Move only the rows that are out of place.
      let cursor = body.firstElementChild;
      for (const key of keys) {
        const row = rows.get(key);
        if (row === cursor) cursor = cursor.nextElementSibling;
        else body.insertBefore(row, cursor);
      }
      order = keys;
    }
    let flying = 0;
    let failed = 0;
    let stalled = 0;
    for (const board of boards.values()) {
      flying += board.inFlight.size;
      if (board.state === 'failed') failed += 1;
      else if (board.state === 'stalled') stalled += 1;
    }
    const summary = $('summary');
    summary.textContent = `${boards.size} boards · ${flying} in flight · ${failed} failed · ${stalled} stalled`;
    Object.assign(summary.dataset, { boards: boards.size, inFlight: flying, failed, stalled });
    $('empty').hidden = boards.size > 0 || needSnapshot;
  }

  /** Once a second: transfers that went quiet become stalled, and stalled ones count up. */
  setInterval(() => {
    const now = Date.now();
    for (const transfer of transfers.values()) {
      const stalled = isStalled(transfer, now);
      if (stalled || stalled !== transfer.stalled) {
        transfer.stalled = stalled;
        const board = boards.get(transfer.board);
        if (board) board.dirty = true;
        orderDirty = true;
      }
    }
    if (orderDirty) schedule();
  }, 1000);

  $('filter').addEventListener('input', (event) => {
    filterText = event.target.value.trim().toLowerCase();
    filterDirty = true;
    schedule();
  });

  run();
})();
