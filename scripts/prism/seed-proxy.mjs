// A loopback proxy in front of Prism for scripts/prism.sh: makes Prism's dynamic responses
// deterministic and records what each request got.
//
//   node seed-proxy.mjs PRISM_URL LOG_FILE SEED_PREFIX|static
//
// Prism reseeds its generator from a `Prefer: seed=...` request header, and a fixed `--seed` at start
// would make every response identical. So each request is forwarded with
// `Prefer: dynamic=true, seed=<SEED_PREFIX>-<n>`, n counting requests from 1: the same sequence of
// requests always gets the same responses, and every response differs. With `static`, requests are
// forwarded unchanged. One line per request goes to LOG_FILE:
//   <n> <METHOD> <path> <status> <request violations as Prism's JSON, or ->
// Prints the port it listens on (127.0.0.1 only), then serves until killed.

import { appendFileSync } from 'node:fs';
import http from 'node:http';

const [target, logFile, seed] = process.argv.slice(2);
if (!target || !logFile || !seed) {
  console.error('usage: node seed-proxy.mjs PRISM_URL LOG_FILE SEED_PREFIX|static');
  process.exit(2);
}
const upstream = new URL(target);
let count = 0;

const server = http.createServer((req, res) => {
  count += 1;
  const n = count;
  const headers = { ...req.headers, host: upstream.host };
  if (seed !== 'static') {
    headers.prefer = `dynamic=true, seed=${seed}-${n}`;
  }
  const forward = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
    (answer) => {
      const path = req.url.split('?')[0];
      const violations = answer.headers['sl-violations'] ?? '-';
      appendFileSync(logFile, `${n} ${req.method} ${path} ${answer.statusCode} ${violations}\n`);
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on('error', (err) => {
    appendFileSync(logFile, `${n} ${req.method} ${req.url} 599 proxy-error:${err.message}\n`);
    res.writeHead(502);
    res.end();
  });
  req.pipe(forward);
});

server.listen(0, '127.0.0.1', () => {
  console.log(server.address().port);
});
