// The peer measurement: npm's cacache on the same workloads as Larder's benchmark.
// Usage: node cacache-bench.mjs CACHE_DIR COUNT SIZE BIG_BYTES  (prints one JSON object)
import { createRequire } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import crypto from 'node:crypto';
import path from 'node:path';

const require = createRequire(path.join(process.env.CACACHE_PREFIX, 'node_modules', 'x.js'));
const cacache = require('cacache');

const [dir, countArg, sizeArg, bigArg] = process.argv.slice(2);
const count = Number(countArg), size = Number(sizeArg), big = Number(bigArg);
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const out = { version: require('cacache/package.json').version, count, size };

const payloads = [];
for (let i = 0; i < count; i++) payloads.push(crypto.randomBytes(size));

let t0 = process.hrtime.bigint();
for (let i = 0; i < count; i++) await cacache.put(dir, `bench:${i}`, payloads[i]);
out.putPerSec = count / seconds(t0);

t0 = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  const r = await cacache.get(dir, `bench:${i}`);
  if (r.data.length !== size) throw new Error('bad get');
}
out.getPerSec = count / seconds(t0);

t0 = process.hrtime.bigint();
for (let i = 0; i < count; i++) await cacache.get.info(dir, `bench:${i}`);
out.infoPerSec = count / seconds(t0);

t0 = process.hrtime.bigint();
const listing = await cacache.ls(dir);
out.lsSeconds = seconds(t0);
out.lsEntries = Object.keys(listing).length;

if (big > 0) {
  const chunk = crypto.randomBytes(1 << 20);
  let left = big;
  const source = new Readable({
    read() {
      if (left <= 0) { this.push(null); return; }
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
  t0 = process.hrtime.bigint();
  await pipeline(source, cacache.put.stream(dir, 'bench:big'));
  out.bigPutMBps = big / 1e6 / seconds(t0);
  let got = 0;
  t0 = process.hrtime.bigint();
  await pipeline(cacache.get.stream(dir, 'bench:big'), new Writable({ write(c, e, cb) { got += c.length; cb(); } }));
  out.bigGetMBps = big / 1e6 / seconds(t0);
  if (got !== big) throw new Error('bad big get');
}
console.log(JSON.stringify(out));
