"""The Celery peer of `rapport-bench --jobs`: the same no-op job on RabbitMQ.

    python celery_bench.py --mode throughput --n 20000 [--pool prefork] [--concurrency 2] [--prefetch 4]
    python celery_bench.py --mode latency --n 1000 [--pace-ms 5]

Throughput: enqueues N no-op tasks into a queue of its own (`BENCH_QUEUE`), then starts a
worker (`celery -A celery_bench worker`, a subprocess) and times from the first task's
start to the last task's end, counted with a Redis INCR. Latency: with the worker
running, sends one task at a time carrying its send time; the task pushes `now - sent`
to a Redis list. Prints one JSON line. The result backend is off; `task_acks_late` gives
the at-least-once semantics of Rapport's jobs.

Settings come from the environment, so the worker subprocess sees the same ones:
BENCH_BROKER, BENCH_REDIS, BENCH_QUEUE, BENCH_PREFETCH.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import redis
from celery import Celery

BROKER = os.environ.get("BENCH_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_QUEUE", "celery_bench")

app = Celery("celery_bench", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    result_backend=None,
    task_acks_late=True,
    worker_prefetch_multiplier=int(os.environ.get("BENCH_PREFETCH", "4")),
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # No remote control: no `celery.pidbox` exchange left behind on the broker.
    worker_enable_remote_control=False,
)
store = redis.Redis.from_url(REDIS)


@app.task(name="bench.noop")
def noop(key, n):
    started = time.time()
    count = store.incr(key)
    if count == 1:
        store.set(key + ":first_start", started)
    if count == n:
        store.set(key + ":last_end", time.time())


@app.task(name="bench.latency")
def latency(key, sent):
    store.rpush(key, time.time() - sent)


def start_worker(pool, concurrency):
    here = os.path.dirname(os.path.abspath(__file__))
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    command = [celery, "-A", "celery_bench", "worker", "-Q", QUEUE, "-P", pool, "-c", str(concurrency),
               "-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
               "-n", QUEUE + "@%h"]
    return subprocess.Popen(command, cwd=here, stdout=subprocess.DEVNULL)


def stop_worker(worker):
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def wait_until(check, timeout, what):
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.002)


def throughput(args):
    key = QUEUE + ":count"
    store.delete(key, key + ":first_start", key + ":last_end")
    began = time.time()
    with app.producer_or_acquire() as producer:
        for _ in range(args.n):
            noop.apply_async((key, args.n), producer=producer)
    enqueued = time.time() - began
    worker = start_worker(args.pool, args.concurrency)
    worker_started = time.time()
    try:
        wait_until(lambda: int(store.get(key) or 0) >= args.n, args.timeout, f"{args.n} tasks")
        wall = time.time() - worker_started
    finally:
        stop_worker(worker)
    busy = float(store.get(key + ":last_end")) - float(store.get(key + ":first_start"))
    ran = int(store.get(key))
    store.delete(key, key + ":first_start", key + ":last_end")
    return {
        "n": args.n,
        "jobs_per_s": args.n / busy,
        "jobs_per_s_with_worker_start": args.n / wall,
        "enqueue_per_s": args.n / enqueued,
        "ran": ran,
    }


def percentile(sorted_values, p):
    return sorted_values[min(int(len(sorted_values) * p), len(sorted_values) - 1)]


def latencies(args):
    key = QUEUE + ":latency"
    warm = QUEUE + ":warm"
    store.delete(key, warm)
    worker = start_worker(args.pool, args.concurrency)
    try:
        # Waits for the worker to be up: its first tasks are not measured.
        for _ in range(20):
            latency.delay(warm, time.time())
        wait_until(lambda: store.llen(warm) >= 20, args.timeout, "the worker to start")
        pace = args.pace_ms / 1000
        with app.producer_or_acquire() as producer:
            next_send = time.time()
            for _ in range(args.n):
                latency.apply_async((key, time.time()), producer=producer)
                next_send += pace
                time.sleep(max(0.0, next_send - time.time()))
        wait_until(lambda: store.llen(key) >= args.n, args.timeout, f"{args.n} tasks")
    finally:
        stop_worker(worker)
    values = sorted(float(v) * 1000 for v in store.lrange(key, 0, -1))
    store.delete(key, warm)
    return {
        "n": len(values),
        "p50_ms": percentile(values, 0.50),
        "p99_ms": percentile(values, 0.99),
        "max_ms": values[-1],
    }


def delete_queue():
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_delete(QUEUE)
        channel.exchange_delete(QUEUE)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["throughput", "latency"], required=True)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pace-ms", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    try:
        result = throughput(args) if args.mode == "throughput" else latencies(args)
    finally:
        delete_queue()
    result.update(pool=args.pool, concurrency=args.concurrency, prefetch=app.conf.worker_prefetch_multiplier)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
