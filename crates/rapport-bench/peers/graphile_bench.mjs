// The graphile-worker peer of `rapport-bench --jobs`: the same no-op job on PostgreSQL.
//
//     node graphile_bench.mjs --mode throughput --n 20000 --db NAME [--concurrency 32]
//     node graphile_bench.mjs --mode latency --n 1000 --db NAME [--pace-ms 5]
//
// Creates the database NAME on --base (default postgres://postgres@127.0.0.1:5432), runs
// graphile-worker's migrations, measures, and drops the database. Throughput: adds N no-op
// jobs (`addJobs`, 500 a call), then starts a worker and times from its start until the
// jobs table is empty (every job ran and was removed), as Rapport's figure runs until its
// ledger holds N done jobs. Latency: with the worker running, adds one job at a time and
// measures from `addJob`'s return (the commit) to the handler's start; graphile-worker
// wakes on LISTEN/NOTIFY. Prints one JSON line.
//
// Run from a directory whose node_modules holds graphile-worker (`npm install
// graphile-worker`); rapport-bench copies it there.

import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";

const { values: args } = parseArgs({
  options: {
    mode: { type: "string" },
    n: { type: "string", default: "20000" },
    db: { type: "string" },
    base: { type: "string", default: "postgres://postgres@127.0.0.1:5432" },
    concurrency: { type: "string", default: "32" },
    "pace-ms": { type: "string", default: "5" },
  },
});
const n = Number(args.n);
const concurrency = Number(args.concurrency);
const connectionString = `${args.base}/${args.db}`;

// Warnings and errors only, on stderr: stdout carries the result.
const logger = new Logger(() => (level, message) => {
  if (level === "warning" || level === "error") console.error(`graphile-worker ${level}: ${message}`);
});

async function admin(sql) {
  const client = new pg.Client({ connectionString: `${args.base}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function startWorker(taskList) {
  // A connection per concurrent job, as graphile-worker advises (its default pool is 10).
  const maxPoolSize = concurrency + 2;
  return run({ connectionString, concurrency, maxPoolSize, noHandleSignals: true, pollInterval: 1000, taskList, logger });
}

async function throughput(utils) {
  const began = performance.now();
  for (let added = 0; added < n; added += 500) {
    const batch = Array.from({ length: Math.min(500, n - added) }, () => ({ identifier: "noop", payload: {} }));
    await utils.addJobs(batch);
  }
  const enqueued = (performance.now() - began) / 1000;
  let ran = 0;
  let lastRan;
  const allRan = new Promise((resolve) => (lastRan = resolve));
  const started = performance.now();
  const runner = await startWorker({
    noop: async () => {
      if (++ran === n) lastRan(performance.now());
    },
  });
  const handlersDone = await allRan;
  // Counted when the table is empty: graphile-worker deletes a job once it completes.
  const pool = new pg.Pool({ connectionString, max: 1 });
  for (;;) {
    const { rows } = await pool.query("SELECT count(*)::int AS left FROM graphile_worker._private_jobs");
    if (rows[0].left === 0) break;
    await sleep(2);
  }
  const empty = performance.now();
  await pool.end();
  await runner.stop();
  return {
    n,
    jobs_per_s: n / ((empty - started) / 1000),
    jobs_per_s_handlers: n / ((handlersDone - started) / 1000),
    enqueue_per_s: n / enqueued,
    ran,
  };
}

async function latency(utils) {
  const returned = new Map();
  const starts = new Map();
  const runner = await startWorker({
    lat: async (payload) => {
      starts.set(payload.i, performance.now());
    },
  });
  // The first jobs warm the pools up and are not measured.
  for (let i = -20; i < 0; i++) await utils.addJob("lat", { i });
  while (starts.size < 20) await sleep(5);
  let next = performance.now();
  for (let i = 0; i < n; i++) {
    await utils.addJob("lat", { i });
    returned.set(i, performance.now());
    next += Number(args["pace-ms"]);
    await sleep(Math.max(0, next - performance.now()));
  }
  const deadline = performance.now() + 60_000;
  while (starts.size < n + 20 && performance.now() < deadline) await sleep(5);
  await runner.stop();
  // A start seen before addJob returned (the notification beat the reply) counts as 0.
  const values = [...returned].map(([i, t]) => Math.max(0, (starts.get(i) ?? Infinity) - t)).sort((a, b) => a - b);
  const at = (p) => values[Math.min(Math.floor(values.length * p), values.length - 1)];
  return { n: values.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: values[values.length - 1] };
}

await admin(`CREATE DATABASE "${args.db}"`);
let result;
try {
  await runMigrations({ connectionString, logger });
  const utils = await makeWorkerUtils({ connectionString, logger });
  try {
    result = args.mode === "latency" ? await latency(utils) : await throughput(utils);
  } finally {
    await utils.release();
  }
} finally {
  await admin(`DROP DATABASE IF EXISTS "${args.db}" WITH (FORCE)`);
}
const { version } = createRequire(import.meta.url)("graphile-worker/package.json");
console.log(JSON.stringify({ ...result, concurrency, version }));
