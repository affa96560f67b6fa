// Health worker thread (see health.ts): answers /healthz and /readyz from the state the main
// thread publishes in a SharedArrayBuffer, so probes are answered while the main loop is busy.
// Plain JavaScript on purpose: it starts without the TypeScript loader and loads nothing else.
'use strict';
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');

const f64 = new Float64Array(workerData.buffer);
const { reasons: REASONS, readyStallMs, liveStallMs } = workerData;

function state() {
  const now = Date.now();
  const silent = now - f64[0];
  const flags = f64[1];
  const reasons = REASONS.filter((r) => (flags & r.bit) !== 0).map((r) => r.text);
  if (silent > readyStallMs) reasons.push(`main event loop stalled for ${Math.round(silent / 1000)} s`);
  return { silent, reasons };
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  const send = (status, text) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
    res.end(text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'use GET\n');
  const s = state();
  if (path === '/healthz') {
    if (s.silent > liveStallMs) return send(503, `not alive: main event loop stalled for ${Math.round(s.silent / 1000)} s\n`);
    return send(200, 'ok\n');
  }
  if (path === '/readyz') {
    if (s.reasons.length) return send(503, `not ready: ${s.reasons.join('; ')}\n`);
    return send(200, 'ready\n');
  }
  send(404, 'not found\n');
});
server.requestTimeout = 5000;
server.headersTimeout = 5000;
server.keepAliveTimeout = 1000;
server.maxHeadersCount = 50;
server.on('error', (e) => parentPort.postMessage({ error: e.message }));
server.listen(workerData.port, workerData.host, () => parentPort.postMessage({ port: server.address().port }));
