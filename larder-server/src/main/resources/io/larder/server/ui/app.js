// Larder's web page: everything comes from the server's own JSON (/status, /v1/history, /v1/entries);
// no library, no build step. Credentials are the browser's (it asks once; this page never sees them).
'use strict';

const $ = (id) => document.getElementById(id);
const COLORS = ['#2f6fde', '#27ae60', '#e67e22', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d', '#d35400'];

function size(n) {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function when(ms) {
  return ms == null ? '–' : new Date(ms).toLocaleString();
}

function showError(message) {
  $('error').textContent = message || '';
}

async function getJson(url, options) {
  const r = await fetch(url, Object.assign({ credentials: 'same-origin', headers: { Accept: 'application/json' } }, options || {}));
  if (!r.ok) {
    const text = await r.text();
    throw new Error(r.status + ' ' + (text || r.statusText).trim());
  }
  return r.json();
}

// ------------------------------------------------------------------ overview and charts

async function refresh() {
  try {
    const [status, history] = await Promise.all([getJson('/status'), getJson('/v1/history')]);
    showError('');
    $('version').textContent = 'version ' + status.version + ' (' + status.commit + ')';
    $('uptime').textContent = 'up ' + Math.round(status.uptimeSeconds / 60) + ' min';
    $('entries-count').textContent = status.store.entries.toLocaleString();
    const used = status.store.bytes + status.store.indexBytes;
    $('store-size').textContent = size(used);
    if (status.store.maxSize) {
      $('store-bound').textContent = 'of max-size ' + size(status.store.maxSize);
      $('store-bar').style.width = Math.min(100, 100 * used / status.store.maxSize) + '%';
    } else {
      $('store-bound').textContent = 'no max-size';
      $('store-bar').style.width = '0';
    }
    let hits = 0, misses = 0;
    const per = [];
    for (const [tool, hm] of Object.entries(status.hitRates || {})) {
      hits += hm.hits; misses += hm.misses;
      per.push(tool + ' ' + Math.round(100 * hm.rate) + '%');
    }
    $('hit-rate').textContent = hits + misses === 0 ? '–' : Math.round(100 * hits / (hits + misses)) + '%';
    $('hit-detail').textContent = per.join(', ');
    $('tier').textContent = status.remoteTier || 'none';
    const samples = history.samples || [];
    $('evictions').textContent = samples.reduce((a, s) => a + s.evictions, 0).toLocaleString();
    $('integrity').textContent = samples.reduce((a, s) => a + s.integrityFailures, 0).toLocaleString();
    drawHits(samples);
    drawTraffic(samples);
  } catch (e) {
    showError('cannot read the server: ' + e.message);
  }
}

function axes(ctx, w, h) {
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = '#d8dce3';
  ctx.beginPath();
  for (let i = 0; i <= 4; i++) {
    const y = 10 + (h - 20) * i / 4;
    ctx.moveTo(0, y); ctx.lineTo(w, y);
  }
  ctx.stroke();
}

function line(ctx, w, h, values, max, color) {
  if (values.length === 0) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((v, i) => {
    if (v == null) return;
    const x = values.length === 1 ? w / 2 : i * w / (values.length - 1);
    const y = 10 + (h - 20) * (1 - (max > 0 ? v / max : 0));
    if (i === 0 || values[i - 1] == null) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function drawHits(samples) {
  const c = $('chart-hits'), ctx = c.getContext('2d');
  axes(ctx, c.width, c.height);
  const tools = [...new Set(samples.flatMap((s) => Object.keys(s.tools || {})))].sort();
  const legend = $('legend');
  legend.replaceChildren();
  tools.forEach((tool, i) => {
    const color = COLORS[i % COLORS.length];
    line(ctx, c.width, c.height, samples.map((s) => {
      const t = (s.tools || {})[tool];
      return t && t.hits + t.misses > 0 ? t.hits / (t.hits + t.misses) : null;
    }), 1, color);
    const key = document.createElement('span');
    key.className = 'key k' + (i % COLORS.length);
    legend.append(key, document.createTextNode(tool));
  });
  if (tools.length === 0) legend.textContent = samples.length === 0 ? 'the first point comes 10 s after the server started' : 'no hits or misses yet';
}

function drawTraffic(samples) {
  const c = $('chart-traffic'), ctx = c.getContext('2d');
  axes(ctx, c.width, c.height);
  const series = [samples.map((s) => s.requests), samples.map((s) => s.bytesIn), samples.map((s) => s.bytesOut)];
  series.forEach((values, i) => line(ctx, c.width, c.height, values, Math.max(1, ...values), COLORS[i]));
}

// ------------------------------------------------------------------ entries

let cursor = null;
let prefix = '';

async function search(more) {
  try {
    const url = '/v1/entries?limit=50&prefix=' + encodeURIComponent(prefix) + (more && cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    const page = await getJson(url);
    const rows = $('entry-rows');
    if (!more) rows.replaceChildren();
    for (const e of page.entries) {
      const tr = document.createElement('tr');
      const cells = [e.key, size(e.size), when(Date.parse(e.created)), when(Date.parse(e.accessed))];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        if (i === 0) td.className = 'key';
        td.textContent = text;
        tr.append(td);
      });
      tr.addEventListener('click', () => showEntry(e));
      rows.append(tr);
    }
    cursor = page.cursor;
    $('more').hidden = !cursor;
    showError('');
  } catch (e) {
    showError('cannot list entries: ' + e.message);
  }
}

function entryUrl(key) {
  return '/v1/entries/' + key.split('/').map(encodeURIComponent).join('/');
}

function showEntry(e) {
  const dl = $('detail-fields');
  dl.replaceChildren();
  const fields = [['key', e.key], ['integrity', e.integrity], ['size', size(e.size) + ' (' + e.size + ' bytes)'],
    ['created', e.created], ['last read', e.accessed], ['expires', e.expires || 'never'],
    ['metadata', e.metadata == null ? '–' : JSON.stringify(e.metadata)]];
  for (const [k, v] of fields) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
  $('download').href = entryUrl(e.key);
  $('download').setAttribute('download', e.key.replace(/[^A-Za-z0-9._-]+/g, '_'));
  $('detail-message').textContent = '';
  $('delete').onclick = () => removeEntry(e.key);
  $('detail').hidden = false;
}

async function removeEntry(key) {
  if (!confirm('Delete ' + key + '?')) return;
  const r = await fetch(entryUrl(key), { method: 'DELETE', credentials: 'same-origin' });
  if (r.status === 204 || r.status === 404) {
    $('detail-message').textContent = 'deleted';
    $('detail').hidden = true;
    await search(false);
    refresh();
  } else if (r.status === 403) {
    $('detail-message').textContent = 'these credentials may read, not delete';
  } else {
    $('detail-message').textContent = 'delete failed: ' + r.status + ' ' + (await r.text());
  }
}

// ------------------------------------------------------------------ maintenance

// A collection or verification runs on the server as a job; the page watches it until it is done.
async function action(kind, label) {
  const out = $('action-output');
  const bar = $('job-progress');
  out.textContent = label + ' starting…';
  try {
    const r = await fetch('/v1/jobs/' + kind, { method: 'POST', credentials: 'same-origin' });
    if (r.status === 409) {
      out.textContent = 'a collection or verification is already running';
    } else if (r.status === 403) {
      out.textContent = 'these credentials may read, not run maintenance';
      return;
    } else if (r.status !== 202) {
      out.textContent = label + ' failed: ' + r.status + ' ' + (await r.text());
      return;
    }
    bar.hidden = false;
    for (;;) {
      const { job } = await getJson('/v1/jobs');
      if (job.bytesTotal > 0) {
        bar.max = job.bytesTotal;
        bar.value = Math.min(job.bytesDone, job.bytesTotal);
        out.textContent = job.kind + ' running: ' + size(job.bytesDone) + ' of ' + size(job.bytesTotal) + ' re-hashed';
      } else {
        bar.removeAttribute('value');
        out.textContent = job.kind + ' running…';
      }
      if (job.done) {
        bar.max = 1;
        bar.value = 1;
        out.textContent = job.error ? job.kind + ' failed: ' + job.error : job.kind + ' done: ' + JSON.stringify(job.report);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    refresh();
  } catch (e) {
    out.textContent = label + ' failed: ' + e.message;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    prefix = $('prefix').value;
    cursor = null;
    search(false);
  });
  $('more').addEventListener('click', () => search(true));
  $('gc').addEventListener('click', () => action('gc', 'collection'));
  $('verify').addEventListener('click', () => action('verify', 'verification'));
  refresh();
  search(false);
  setInterval(refresh, 10000);
});
