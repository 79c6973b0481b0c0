#!/usr/bin/env python3
"""The one comparison of this package's command-line tools with librdkafka's rdkafka_performance.

Run through Benchmarks/compare.sh, which builds everything and passes the paths in the environment. Every row times
whole processes by the wall clock (start to exit), on topics of several partitions, against one release mock-broker
started here, with librdkafka run right next to ours in the same session: each workload alternates ours and theirs
`--rounds` times and reports medians. CPU seconds (user + sys) and peak RSS come from the kernel (wait4).

Ratios: for client rows, ours / librdkafka 2.16 as speed (their median time / ours); for broker rows, mock-broker /
Tansu as speed, with librdkafka as the client of both.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN_DIR", os.path.join(ROOT, ".build", "release"))
PERF = os.environ.get("RDKAFKA_PERFORMANCE", "")
LIB216 = os.environ.get("LIBRDKAFKA_216_DIR", "")
TANSU = os.environ.get("TANSU_BINARY", "")
WORK = tempfile.mkdtemp(prefix="compare-")
STARTED = []  # processes this script started, ended by PID at exit


# MARK: - Processes

class Run:
    """One finished process: wall seconds, CPU seconds, peak RSS (MB), exit status, captured output."""

    def __init__(self, wall, cpu, rss_mb, status, stdout, stderr):
        self.wall, self.cpu, self.rss_mb, self.status = wall, cpu, rss_mb, status
        self.stdout, self.stderr = stdout, stderr


def run(cmd, env=None, timeout=300, stdout_to_null=False):
    """Runs `cmd` to its end (killed after `timeout` s) and measures it as a whole process.

    The peak RSS comes from GNU time, which starts `cmd` in a process of its own: a process this script started
    directly would report at least this script's RSS (about 35 MB), because Linux carries the peak of the memory a
    process had before `exec` into the peak it reports."""
    out_path = os.path.join(WORK, "out-%d" % time.monotonic_ns())
    err_path = out_path + ".err"
    rss_path = out_path + ".rss"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_path, *cmd],
                                   stdout=subprocess.DEVNULL if stdout_to_null else out, stderr=err,
                                   env=merged_env(env), stdin=subprocess.DEVNULL, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        # GNU time's usage includes the command's (time itself adds about a millisecond, to both sides).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - start
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "rb") as f:
        stdout = f.read().decode(errors="replace")
    with open(err_path, "rb") as f:
        stderr = f.read().decode(errors="replace")
    rss_kb = 0
    if os.path.exists(rss_path):
        with open(rss_path) as f:
            lines = f.read().split()
            rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        os.remove(rss_path)
    os.remove(out_path)
    os.remove(err_path)
    return Run(wall, usage.ru_utime + usage.ru_stime, rss_kb / 1024, process.returncode, stdout, stderr)


def start(cmd, env=None, stdout=None):
    process = subprocess.Popen(cmd, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=merged_env(env), stdin=subprocess.DEVNULL)
    STARTED.append(process)
    return process


def merged_env(extra):
    env = dict(os.environ)
    env.update(extra or {})
    return env


def stop(process, sig=signal.SIGTERM, timeout=20):
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cleanup():
    for process in STARTED:
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            stop(process, timeout=10)
    shutil.rmtree(WORK, ignore_errors=True)


def process_cpu(pid):
    """CPU seconds (user + sys) a running process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# MARK: - Brokers

class MockBrokerProcess:
    def __init__(self, partitions=3, extra=()):
        self.out = os.path.join(WORK, "broker-%d.out" % time.monotonic_ns())
        self.handle = open(self.out, "w")
        self.process = start([os.path.join(BIN, "mock-broker"), "--port", "0", "--partitions", str(partitions),
                              "--log-level", "error", "--statistics-on-exit", *extra], stdout=self.handle)
        deadline = time.monotonic() + 30
        self.bootstrap = None
        while time.monotonic() < deadline and self.bootstrap is None:
            with open(self.out) as f:
                for line in f:
                    if line.startswith("mock-broker listening on "):
                        self.bootstrap = line.split()[-1]
            time.sleep(0.05)
        if not self.bootstrap:
            raise SystemExit("mock-broker did not start")

    def statistics(self):
        """Stops the broker and returns the statistics it prints on the way out."""
        stop(self.process)
        self.handle.close()
        with open(self.out) as f:
            for line in f:
                if line.startswith("mock-broker statistics "):
                    return json.loads(line[len("mock-broker statistics "):])
        return {}

    def stop(self):
        stop(self.process)


class TansuProcess:
    def __init__(self):
        port = free_port()
        url = "tcp://127.0.0.1:%d" % port
        self.url = url
        self.bootstrap = "127.0.0.1:%d" % port
        self.process = start([TANSU, "broker", "--listener-url", url, "--advertised-listener-url", url,
                              "--storage-engine", "memory://tansu/"])
        if not wait_for_port(port):
            raise SystemExit("tansu did not start")

    def create_topic(self, name, partitions):
        subprocess.run([TANSU, "topic", "create", name, "--broker", self.url, "--partitions", str(partitions)],
                       check=True, capture_output=True, timeout=30)

    def stop(self):
        stop(self.process)


def create_topic(bootstrap, name, partitions):
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


# MARK: - The tools

def ours_produce(bootstrap, topic, count, size, flags):
    return [os.path.join(BIN, "kafka-producer"), "--bootstrap-server", bootstrap, "--topic", topic, "--count", str(count),
            "--size", str(size), "--stats-json", *flags]


def theirs_produce(bootstrap, topic, count, size, flags):
    return [PERF, "-P", "-t", topic, "-b", bootstrap, "-s", str(size), "-c", str(count), "-q", *flags]


def ours_consume(bootstrap, topic, count, flags=()):
    return [os.path.join(BIN, "kafka-consumer"), "--bootstrap-server", bootstrap, "--topic", topic, "--from-beginning",
            "--count", str(count), "--format", "value", "--stats-json", *flags]


def theirs_consume(bootstrap, topic, count, partitions, flags=()):
    cmd = [PERF, "-C", "-t", topic, "-b", bootstrap, "-o", "beginning", "-c", str(count), "-q", *flags]
    for partition in range(partitions):
        cmd += ["-p", str(partition)]
    return cmd


LIBRDKAFKA_216 = {"LD_LIBRARY_PATH": LIB216}


def check_ours_produced(result, count):
    last = [line for line in result.stdout.splitlines() if line.startswith("{")]
    stats = json.loads(last[-1]) if last else {}
    if result.status != 0 or stats.get("delivered") != count:
        raise RuntimeError("kafka-producer failed (%s): %s %s" % (result.status, result.stdout[-500:], result.stderr[-500:]))
    return stats


def check_theirs_produced(result, count):
    """Every record delivered, none failed. rdkafka_performance's exit status says whether its count of records
    produced equals its count of delivery reports, but it takes that count as the records it sent less the length of
    librdkafka's out-queue at the end, which can hold an event that is not a record: "999999 messages produced,
    1000000 delivered (..., 0 failed)", exit status 1 (seen once, with gzip, after its queue had filled). So the run
    is judged by its summary's delivered and failed counts, and exit status 1 is taken as that miscount."""
    text = result.stdout + result.stderr
    delivered = re.search(r" (\d+) delivered \(offset -?\d+, (\d+) failed\)", text)
    if result.status not in (0, 1) or not delivered or int(delivered.group(1)) != count or int(delivered.group(2)) != 0:
        raise RuntimeError("rdkafka_performance -P failed (%s): %s %s" % (result.status, result.stdout[-500:], result.stderr[-500:]))


def theirs_reported_seconds(result):
    """The time rdkafka_performance reports for its own run (first record to last, its summary's "in N ms"): the
    transfer without the process's start-up and shutdown."""
    found = re.findall(r" in (\d+)ms:", result.stdout + result.stderr)
    return int(found[-1]) / 1000 if found else float("nan")


def check_ours_consumed(result, count):
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    stats = json.loads(lines[-1]) if lines else {}
    if result.status != 0 or stats.get("records") != count:
        raise RuntimeError("kafka-consumer failed (%s): %s" % (result.status, result.stderr[-800:]))
    return stats


def check_theirs_consumed(result, count):
    text = result.stdout + result.stderr
    if result.status != 0 or ("%d messages" % count) not in text:
        raise RuntimeError("rdkafka_performance -C failed (%s): %s" % (result.status, text[-800:]))


def delete_topics(bootstrap, names):
    """Deletes a row's topics once it is done with them. The broker's data directory would otherwise grow by
    gigabytes over the run, until the kernel throttles its writes to the disk's speed: the rows measured last would
    then time the disk (the same for both clients), not the clients."""
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        admin.delete_topics(list(names))
    finally:
        admin.close()


def populate(bootstrap, topic, count, size, codec="none", partitions=None):
    """Writes `count` records with librdkafka (fast, and so not what is measured), spread evenly over the topic's
    partitions: each record goes to a partition of its own random choice. librdkafka's sticky partitioner would keep
    a partition until 10 ms had passed, and `rdkafka_performance` queues 50,000 records of 10 KB in about that long,
    so a "3-partition" topic used to hold all its records in one partition, or 369, 131 and 0 MB of 500."""
    if partitions:
        create_topic(bootstrap, topic, partitions)
    result = run(theirs_produce(bootstrap, topic, count, size, ["-a", "1", "-z", codec, "-X", "linger.ms=5",
                                                                 "-X", "batch.size=1000000",
                                                                 "-X", "sticky.partitioning.linger.ms=0"]),
                 env=LIBRDKAFKA_216)
    check_theirs_produced(result, count)


# MARK: - Rows

ROWS = []


def median(values):
    return statistics.median(values) if values else float("nan")


def add_row(name, unit_count, ours, theirs, theirs_202=None, note="", kind="client"):
    """`ours`, `theirs`: lists of Run. Throughput in records/s from the median wall time."""
    row = {"workload": name, "kind": kind, "records": unit_count,
           "ours_seconds": median([r.wall for r in ours]), "theirs_seconds": median([r.wall for r in theirs]),
           "ours_cpu_seconds": median([r.cpu for r in ours]), "theirs_cpu_seconds": median([r.cpu for r in theirs]),
           "ours_peak_rss_mb": max(r.rss_mb for r in ours), "theirs_peak_rss_mb": max(r.rss_mb for r in theirs),
           "note": note}
    if theirs_202:
        row["librdkafka_202_seconds"] = median([r.wall for r in theirs_202])
    if all(hasattr(r, "broker_cpu") for r in ours + theirs):
        # What the broker spent serving each side: where it is as busy as the wall clock, it is the bottleneck.
        row["broker_cpu_seconds_ours"] = median([r.broker_cpu for r in ours])
        row["broker_cpu_seconds_theirs"] = median([r.broker_cpu for r in theirs])
    row["ratio"] = row["theirs_seconds"] / row["ours_seconds"]
    ROWS.append(row)
    print_row(row)


def print_row(row):
    per_million = 1e6 / row["records"] if row["records"] else 0
    extra = ""
    if "librdkafka_202_seconds" in row:
        extra = "  (librdkafka 2.0.2: %.2f s)" % row["librdkafka_202_seconds"]
    if "broker_cpu_seconds_ours" in row:
        extra += "  broker CPU %.2f vs %.2f s" % (row["broker_cpu_seconds_ours"], row["broker_cpu_seconds_theirs"])
    print("%-58s ours %7.2f s  librdkafka %7.2f s  ratio %5.2f  CPU/M %5.2f vs %5.2f s  RSS %5.0f vs %5.0f MB%s %s" % (
        row["workload"], row["ours_seconds"], row["theirs_seconds"], row["ratio"],
        row["ours_cpu_seconds"] * per_million, row["theirs_cpu_seconds"] * per_million,
        row["ours_peak_rss_mb"], row["theirs_peak_rss_mb"], extra, row["note"]), flush=True)


def unique(prefix):
    return "%s-%d" % (prefix, time.monotonic_ns() % 10**9)


# MARK: - Workloads

MATCHED = {"ours": ["--acks", "1", "--linger-ms", "5", "--batch-size", "1000000"],
           "theirs": ["-a", "1", "-X", "linger.ms=5", "-X", "batch.size=1000000"]}


def run_measuring_broker(broker, cmd, env=None, stdout_to_null=False):
    """`run`, with the CPU seconds the broker spent meanwhile as `broker_cpu`."""
    before = process_cpu(broker.process.pid)
    result = run(cmd, env=env, stdout_to_null=stdout_to_null)
    result.broker_cpu = process_cpu(broker.process.pid) - before
    return result


def warm_up(broker, count):
    """Unmeasured runs of each client before the first row, in pairs (ours, then theirs), until the broker's CPU for
    a pair stops falling (at least 2 pairs, at most 6).

    The first produce into a fresh broker pays for its warming up (the first topic, its files, the broker's first
    requests), and whichever client went first paid it: our first run against a fresh broker took 0.28-0.30 s where
    the next ones took 0.21-0.23. Right after a build it is worse, for tens of seconds: the memory the compiler freed
    went back to the VM's host, and the broker's first hundreds of megabytes of page cache each cost the host a fault
    (one run's first row: the broker used 0.35 and 0.29 s of CPU per run where 0.08-0.11 is usual, and the row read
    1.02 where the runs before and after read 1.44-1.76)."""
    costs = []
    for _ in range(6):
        topics = [unique("warm-up-ours"), unique("warm-up-theirs")]
        before = process_cpu(broker.process.pid)
        check_ours_produced(run(ours_produce(broker.bootstrap, topics[0], count, 100, MATCHED["ours"])), count)
        check_theirs_produced(run(theirs_produce(broker.bootstrap, topics[1], count, 100, MATCHED["theirs"]),
                                  env=LIBRDKAFKA_216), count)
        costs.append(process_cpu(broker.process.pid) - before)
        delete_topics(broker.bootstrap, topics)
        if len(costs) >= 2 and costs[-1] <= 1.15 * min(costs[:-1]):
            break
    print("warm-up: the broker's CPU per pair of runs %s s" % " ".join("%.2f" % cost for cost in costs), flush=True)


def produce_row(broker, name, count, size, ours_flags, theirs_flags, rounds, with_202=False):
    """Each run writes to a topic of its own, deleted as soon as the run is done, and the two clients take turns
    going first. Both matter on a VM: the kernel hands out pages freed a moment ago cheaply, but pages the host has
    to map again cost several times more to fill (500 MB into a topic took 0.3 s or 2 s of the broker's CPU
    depending on which it got), so a run that went second onto a grown page cache timed the host, not the client."""
    ours, theirs, theirs_202 = [], [], []

    def run_ours():
        topic = unique("ours")
        result = run_measuring_broker(broker, ours_produce(broker.bootstrap, topic, count, size, ours_flags))
        check_ours_produced(result, count)
        ours.append(result)
        delete_topics(broker.bootstrap, [topic])

    def run_theirs():
        topic = unique("theirs")
        result = run_measuring_broker(broker, theirs_produce(broker.bootstrap, topic, count, size, theirs_flags),
                                      env=LIBRDKAFKA_216)
        check_theirs_produced(result, count)
        theirs.append(result)
        delete_topics(broker.bootstrap, [topic])
        if with_202:
            topic = unique("theirs202")
            result = run(theirs_produce(broker.bootstrap, topic, count, size, theirs_flags))
            check_theirs_produced(result, count)
            theirs_202.append(result)
            delete_topics(broker.bootstrap, [topic])

    for round_number in range(rounds):
        for side in ((run_ours, run_theirs) if round_number % 2 == 0 else (run_theirs, run_ours)):
            side()
    add_row(name, count, ours, theirs, theirs_202 or None)


def consume_row(broker, name, count, partitions, codec, rounds, size=100, with_202=False, theirs_flags=()):
    topic = unique("consume")
    populate(broker.bootstrap, topic, count, size, codec, partitions=partitions)
    ours, theirs, theirs_202 = [], [], []
    for _ in range(rounds):
        result = run_measuring_broker(broker, ours_consume(broker.bootstrap, topic, count), stdout_to_null=True)
        check_ours_consumed(result, count)
        ours.append(result)
        result = run_measuring_broker(broker, theirs_consume(broker.bootstrap, topic, count, partitions, theirs_flags),
                                      env=LIBRDKAFKA_216)
        check_theirs_consumed(result, count)
        theirs.append(result)
        if with_202:
            result = run(theirs_consume(broker.bootstrap, topic, count, partitions, theirs_flags))
            check_theirs_consumed(result, count)
            theirs_202.append(result)
    delete_topics(broker.bootstrap, [topic])
    add_row(name, count, ours, theirs, theirs_202 or None)


def run_together(commands):
    """Starts every command at once; the time is until the last exits. Returns one Run per command (each with the
    shared wall time)."""
    results = [None] * len(commands)
    start = time.monotonic()

    def one(index, cmd, env):
        # Our consumer prints records on stdout (its summary goes to stderr); rdkafka_performance its summary.
        results[index] = run(cmd, env=env, stdout_to_null=cmd[0] != PERF)
    threads = [threading.Thread(target=one, args=(i, cmd, env)) for i, (cmd, env) in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    return wall, results


def group_row(broker, count, rounds, name, ours_flags):
    """Two members of one group read a 12-partition topic; each stops after its half of `count`.

    rdkafka_performance's members use librdkafka's default assignors (range, roundrobin: eager rebalances). Ours use
    `ours_flags`: `--assignor range` to match, or nothing for our default, cooperative-sticky, whose incremental
    rebalance takes two rounds; when the first member to join is done before the second round ends, the other learns
    of that round by its next heartbeat (heartbeat.interval.ms, 3 s), as a Java member would."""
    topic = unique("group")
    populate(broker.bootstrap, topic, 2 * count, 100, partitions=12)
    ours, theirs = [], []
    for _ in range(rounds):
        group = unique("ours-group")
        cmd = ours_consume(broker.bootstrap, topic, count // 2, ["--group", group, *ours_flags])
        wall, results = run_together([(cmd, None), (cmd, None)])
        for result in results:
            check_ours_consumed(result, count // 2)
        ours.append(Run(wall, sum(r.cpu for r in results), max(r.rss_mb for r in results), 0, "", ""))
        group = unique("theirs-group")
        cmd = [PERF, "-C", "-G", group, "-t", topic, "-b", broker.bootstrap, "-c", str(count // 2), "-q"]
        wall, results = run_together([(cmd, LIBRDKAFKA_216), (cmd, LIBRDKAFKA_216)])
        for result in results:
            check_theirs_consumed(result, count // 2)
        theirs.append(Run(wall, sum(r.cpu for r in results), max(r.rss_mb for r in results), 0, "", ""))
    delete_topics(broker.bootstrap, [topic])
    add_row(name, count, ours, theirs)


def latency_row(broker, rate, seconds, rounds):
    """End-to-end latency at a fixed rate: producer and consumer of the same client, values stamped with their send
    time (rdkafka_performance -l's format), p50 and p99 from the consumer."""
    count = rate * seconds
    results = {"ours": [], "theirs": []}
    for _ in range(rounds):
        topic = unique("latency-ours")
        create_topic(broker.bootstrap, topic, 3)
        consumer = subprocess.Popen(ours_consume(broker.bootstrap, topic, count, ["--latency"]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        STARTED.append(consumer)
        time.sleep(1.5)
        producer = run(ours_produce(broker.bootstrap, topic, count, 100, ["--rate", str(rate), "--latency", "--acks", "1",
                                                                          "--linger-ms", "5"]))
        check_ours_produced(producer, count)
        _, err = consumer.communicate(timeout=60)
        stats = json.loads([line for line in err.splitlines() if line.startswith("{")][-1])
        results["ours"].append((stats["latency_p50_ms"], stats["latency_p99_ms"]))
        delete_topics(broker.bootstrap, [topic])

        topic = unique("latency-theirs")
        create_topic(broker.bootstrap, topic, 3)
        latencies = os.path.join(WORK, "latencies")
        consumer = subprocess.Popen(theirs_consume(broker.bootstrap, topic, count, 3, ["-l", "-A", latencies]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=merged_env(LIBRDKAFKA_216))
        STARTED.append(consumer)
        time.sleep(1.5)
        producer = run(theirs_produce(broker.bootstrap, topic, count, 100, ["-l", "-r", str(rate), "-a", "1",
                                                                            "-X", "linger.ms=5"]), env=LIBRDKAFKA_216)
        check_theirs_produced(producer, count)
        consumer.wait(timeout=60)
        with open(latencies) as f:
            values = sorted(int(line) for line in f if line.strip())
        results["theirs"].append((values[len(values) // 2] / 1000, values[min(len(values) - 1, int(len(values) * 0.99))] / 1000))
        delete_topics(broker.bootstrap, [topic])
    ours50 = median([p50 for p50, _ in results["ours"]])
    ours99 = median([p99 for _, p99 in results["ours"]])
    theirs50 = median([p50 for p50, _ in results["theirs"]])
    theirs99 = median([p99 for _, p99 in results["theirs"]])
    row = {"workload": "end-to-end latency at %d records/s (p50, p99 ms)" % rate, "kind": "latency",
           "ours_p50_ms": ours50, "ours_p99_ms": ours99, "theirs_p50_ms": theirs50, "theirs_p99_ms": theirs99,
           "ratio": theirs50 / ours50 if ours50 else float("nan")}
    ROWS.append(row)
    print("%-58s ours p50 %.2f p99 %.2f ms  librdkafka p50 %.2f p99 %.2f ms" % (row["workload"], ours50, ours99, theirs50, theirs99),
          flush=True)


def sample_peak_rss(process, seconds):
    """The process's peak RSS (VmHWM, MB), read every 0.2 s for `seconds` or until it ends."""
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with open("/proc/%d/status" % process.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        except FileNotFoundError:
            break
        time.sleep(0.2)
    return peak


def peak_rss_under_stall(cmd, env, seconds):
    """Runs a producer against its own broker, stops the broker (SIGSTOP) after a second, and samples the producer's
    peak RSS (VmHWM) for `seconds`."""
    broker = MockBrokerProcess()
    process = subprocess.Popen(cmd(broker.bootstrap), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=merged_env(env))
    STARTED.append(process)
    time.sleep(1.0)
    os.kill(broker.process.pid, signal.SIGSTOP)
    peak = sample_peak_rss(process, seconds)
    os.kill(broker.process.pid, signal.SIGCONT)
    stop(process, signal.SIGKILL)
    broker.stop()
    return peak


def memory_row(seconds):
    ours = peak_rss_under_stall(lambda b: ours_produce(b, "stalled", 20_000_000, 100, ["--acks", "1"]), None, seconds)
    theirs = peak_rss_under_stall(lambda b: theirs_produce(b, "stalled", 20_000_000, 100, ["-a", "1"]), LIBRDKAFKA_216, seconds)
    row = {"workload": "producer peak RSS, broker stalled %d s (MB)" % seconds, "kind": "memory",
           "ours_peak_rss_mb": ours, "theirs_peak_rss_mb": theirs, "ours_limit_mb": 32 + 50}
    ROWS.append(row)
    print("%-58s ours %.0f MB (limit buffer.memory 32 MB + 50 MB)  librdkafka %.0f MB" % (row["workload"], ours, theirs),
          flush=True)


def consumer_memory_row(seconds):
    """Our consumer reading 12 partitions of 10 KB records (100 MB, about three times what it may read ahead) into a
    pipe nobody drains: once the pipe is full the application is stalled, and only the fetcher's read-ahead bound
    keeps it from taking the whole topic. A partition gets a fetch while it holds less than two
    `max.partition.fetch.bytes`, and a fetch brings at most one more: three per partition, 36 MB here (below
    `fetch.max.bytes`, 50 MB, which bounds them all). Samples the consumer's peak RSS (VmHWM) for `seconds`. The limit
    is what the same consumer holds after reading one record (its code, threads and connections) plus that bound;
    the broker's counters say how much it fetched."""
    partitions, count, size = 12, 10_000, 10_000
    partition_fetch, fetch_max = 1_048_576, 52_428_800
    broker = MockBrokerProcess()
    single = unique("one-record")
    populate(broker.bootstrap, single, 1, size, partitions=1)
    idle = run(ours_consume(broker.bootstrap, single, 1), stdout_to_null=True).rss_mb
    topic = unique("stalled-consumer")
    populate(broker.bootstrap, topic, count, size, partitions=partitions)
    process = subprocess.Popen(ours_consume(broker.bootstrap, topic, count), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    STARTED.append(process)
    peak = sample_peak_rss(process, seconds)
    stalled = process.poll() is None
    stop(process, signal.SIGKILL)
    stats = broker.statistics()
    fetched_mb = (stats.get("fetch_bytes_sent_by_file_region", 0) + stats.get("fetch_bytes_copied", 0)) / 1e6
    bound_mb = min(3 * partition_fetch * partitions, fetch_max) / 2**20
    row = {"workload": "consumer peak RSS, application stalled %d s, 12 partitions of 10 KB records (MB)" % seconds,
           "kind": "consumer-memory", "ours_peak_rss_mb": peak, "ours_limit_mb": idle + bound_mb, "idle_rss_mb": idle,
           "read_ahead_bound_mb": bound_mb, "fetched_mb": fetched_mb, "topic_mb": count * size / 1e6,
           "stalled_throughout": stalled}
    ROWS.append(row)
    print("%-58s ours %.0f MB (limit %.0f: %.0f MB after one record + a read-ahead bound of %.0f MB)  "
          "fetched %.0f of %.0f MB%s" % (row["workload"], peak, row["ours_limit_mb"], idle, bound_mb, fetched_mb,
                                         row["topic_mb"], "" if stalled else "  (the consumer ended: not stalled)"),
          flush=True)


def broker_rows(count, rounds):
    """librdkafka as the client of mock-broker and of Tansu: producing 100-byte and 10 KB records, and fetching 10 KB
    records. Besides the client's whole-process time, rdkafka_performance's own clock (first record to last) and the
    broker's own CPU seconds for the work (from /proc) are compared.

    Which rows time the broker: producing 100-byte records, librdkafka's producer is the bound (about 0.6 CPU-s for a
    million, against the brokers' 0.1 and 0.4 on 2 cores), so that row says little about either broker; producing
    and fetching 10 KB records, the broker's work is most of it. librdkafka's consumer waits half a second before
    its first fetch (its offset query timer, 500 ms, starts before the leader's connection is up, whichever broker it
    is), so the fetch row reads four times as many records as the produce row to keep that wait from being the
    measurement."""
    tansu = TansuProcess()
    mock = MockBrokerProcess()
    try:
        def measure(broker, cmd, check, expected):
            before = process_cpu(broker.process.pid)
            result = run(cmd, env=LIBRDKAFKA_216)
            check(result, expected)
            return result, process_cpu(broker.process.pid) - before

        def create(broker, topic):
            if broker is tansu:
                tansu.create_topic(topic, 3)
            else:
                create_topic(broker.bootstrap, topic, 3)

        def produce_rows(records, size, name):
            # Each run's topic is deleted after it, on both brokers (see produce_row for why that matters here).
            mine, others, cpu = [], [], {"mine": [], "others": []}
            for round_number in range(rounds):
                sides = ((mock, mine, "mine"), (tansu, others, "others"))
                for broker, results, key in (sides if round_number % 2 == 0 else sides[::-1]):
                    topic = unique("broker-produce")
                    create(broker, topic)
                    result, used = measure(broker, theirs_produce(broker.bootstrap, topic, records, size, MATCHED["theirs"]),
                                           check_theirs_produced, records)
                    results.append(result)
                    cpu[key].append(used)
                    delete_topics(broker.bootstrap, [topic])
            broker_row(name, records, mine, others, cpu)

        produce_rows(count, 100, "broker: librdkafka produces %d x 100 B (mock-broker vs Tansu)" % count)
        produce_rows(max(count // 20, 1000), 10_000,
                     "broker: librdkafka produces %d x 10 KB (mock-broker vs Tansu)" % max(count // 20, 1000))

        big = max(count // 5, 1000)
        topics = {}
        for broker in (mock, tansu):
            topic = unique("broker-fetch")
            if broker is tansu:
                tansu.create_topic(topic, 3)
                result = run(theirs_produce(broker.bootstrap, topic, big, 10_000, ["-a", "1", "-X", "linger.ms=5"]), env=LIBRDKAFKA_216)
                check_theirs_produced(result, big)
            else:
                populate(broker.bootstrap, topic, big, 10_000, partitions=3)
            topics[id(broker)] = topic
        mine, others, cpu = [], [], {"mine": [], "others": []}
        for _ in range(rounds):
            for broker, results, key in ((mock, mine, "mine"), (tansu, others, "others")):
                result, used = measure(broker, theirs_consume(broker.bootstrap, topics[id(broker)], big, 3),
                                       check_theirs_consumed, big)
                results.append(result)
                cpu[key].append(used)
        broker_row("broker: librdkafka fetches %d x 10 KB (mock-broker vs Tansu)" % big, big, mine, others, cpu)
    finally:
        tansu.stop()
        mock.stop()


def broker_row(name, count, mine, others, cpu):
    row = {"workload": name, "kind": "broker", "records": count,
           "mock_broker_seconds": median([r.wall for r in mine]), "tansu_seconds": median([r.wall for r in others]),
           "mock_broker_cpu_seconds": median(cpu["mine"]), "tansu_cpu_seconds": median(cpu["others"])}
    row["ratio"] = row["tansu_seconds"] / row["mock_broker_seconds"]
    row["cpu_ratio"] = row["tansu_cpu_seconds"] / max(row["mock_broker_cpu_seconds"], 1e-3)
    row["mock_broker_reported_seconds"] = median([theirs_reported_seconds(r) for r in mine])
    row["tansu_reported_seconds"] = median([theirs_reported_seconds(r) for r in others])
    row["reported_ratio"] = row["tansu_reported_seconds"] / max(row["mock_broker_reported_seconds"], 1e-3)
    ROWS.append(row)
    print("%-58s mock %7.2f s  Tansu %7.2f s  ratio %5.2f  by rdkafka_performance's own clock %.2f vs %.2f s "
          "(ratio %.2f)  broker CPU %.2f vs %.2f s (ratio %.2f)" % (
        name, row["mock_broker_seconds"], row["tansu_seconds"], row["ratio"], row["mock_broker_reported_seconds"],
        row["tansu_reported_seconds"], row["reported_ratio"], row["mock_broker_cpu_seconds"],
        row["tansu_cpu_seconds"], row["cpu_ratio"]), flush=True)


def loopback_row(count, rounds):
    """Our consumer fetching 10 KB records next to iperf3 on loopback; the broker's counters tell how many record
    bytes went out by sendfile. iperf3 moves the same number of bytes as the consumer reads, once per round,
    taking turns with it (loopback throughput here moves by a third within minutes), and each side's median
    is taken."""
    broker = MockBrokerProcess()
    topic = unique("loopback")
    big = max(count // 20, 1000)
    populate(broker.bootstrap, topic, big, 10_000, partitions=3)
    port = free_port()
    server = start(["iperf3", "-s", "-p", str(port)])
    time.sleep(0.5)
    runs, iperf_runs = [], []
    try:
        for index in range(rounds):
            for side in (("iperf3", "ours") if index % 2 == 0 else ("ours", "iperf3")):
                if side == "iperf3":
                    result = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-n", str(big * 10_000), "-J"],
                                            capture_output=True, text=True, timeout=60)
                    iperf_runs.append(json.loads(result.stdout)["end"]["sum_received"]["bits_per_second"] / 8e6)
                else:
                    result = run(ours_consume(broker.bootstrap, topic, big), stdout_to_null=True)
                    runs.append(check_ours_consumed(result, big)["mb_per_second"])
    finally:
        stop(server)
    iperf_mb = median(iperf_runs)
    stats = broker.statistics()
    sent = stats.get("fetch_bytes_sent_by_file_region", 0)
    copied = stats.get("fetch_bytes_copied", 0)
    ours_mb = median(runs)
    row = {"workload": "our consumer fetching 10 KB records vs iperf3 loopback", "kind": "loopback",
           "ours_mb_per_second": ours_mb, "iperf3_mb_per_second": iperf_mb, "ratio": ours_mb / iperf_mb,
           "ours_runs_mb_per_second": runs, "iperf3_runs_mb_per_second": iperf_runs,
           "sendfile_share": sent / (sent + copied) if sent + copied else 0}
    ROWS.append(row)
    print("%-58s ours %.0f MB/s  iperf3 %.0f MB/s  ratio %.2f  record bytes by sendfile %.1f%%" % (
        row["workload"], ours_mb, iperf_mb, row["ratio"], 100 * row["sendfile_share"]), flush=True)
    broker.stop()


# MARK: - Markdown

def markdown_table(count, rounds):
    """The rows as Markdown tables: client workloads (speed ratio > 1: we are faster), then the other kinds."""
    lines = ["Machine: %d cores, Linux %s; %d rounds per side, medians; librdkafka 2.16.0 (confluent-kafka wheel) "
             "unless noted." % (os.cpu_count(), os.uname().release, rounds), "",
             "| Workload | ours (s) | librdkafka (s) | speed ours / librdkafka | CPU s per M records, ours / librdkafka | peak RSS MB, ours / librdkafka | mock-broker CPU s, serving ours / librdkafka |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in ROWS:
        if row["kind"] not in ("client", "group"):
            continue
        per_million = 1e6 / row["records"] if row["records"] else 0
        extra = " (2.0.2: %.2f s)" % row["librdkafka_202_seconds"] if "librdkafka_202_seconds" in row else ""
        broker_cpu = "%.2f / %.2f" % (row["broker_cpu_seconds_ours"], row["broker_cpu_seconds_theirs"]) \
            if "broker_cpu_seconds_ours" in row else ""
        lines.append("| %s | %.2f | %.2f%s | **%.2f** | %.2f / %.2f | %.0f / %.0f | %s |" % (
            row["workload"], row["ours_seconds"], row["theirs_seconds"], extra, row["ratio"],
            row["ours_cpu_seconds"] * per_million, row["theirs_cpu_seconds"] * per_million,
            row["ours_peak_rss_mb"], row["theirs_peak_rss_mb"], broker_cpu))
    lines += ["", "| Other measurement | ours | reference | ratio |", "| --- | --- | --- | ---: |"]
    for row in ROWS:
        kind = row["kind"]
        if kind == "latency":
            lines.append("| %s | p50 %.2f, p99 %.2f | librdkafka p50 %.2f, p99 %.2f | p50 %.2f, p99 %.2f |" % (
                row["workload"], row["ours_p50_ms"], row["ours_p99_ms"], row["theirs_p50_ms"], row["theirs_p99_ms"],
                row["theirs_p50_ms"] / row["ours_p50_ms"] if row["ours_p50_ms"] else float("nan"),
                row["theirs_p99_ms"] / row["ours_p99_ms"] if row["ours_p99_ms"] else float("nan")))
        elif kind == "memory":
            lines.append("| %s | %.0f MB (limit %d) | librdkafka %.0f MB | |" % (
                row["workload"], row["ours_peak_rss_mb"], row["ours_limit_mb"], row["theirs_peak_rss_mb"]))
        elif kind == "consumer-memory":
            lines.append("| %s | %.0f MB (limit %.0f: %.0f after one record + a read-ahead bound of %.0f; "
                         "fetched %.0f of %.0f MB) | | |" % (
                row["workload"], row["ours_peak_rss_mb"], row["ours_limit_mb"], row["idle_rss_mb"],
                row["read_ahead_bound_mb"], row["fetched_mb"], row["topic_mb"]))
        elif kind == "broker":
            lines.append("| %s | mock-broker %.2f s (rdkafka_performance's clock %.2f s), CPU %.2f s | "
                         "Tansu %.2f s (%.2f s), CPU %.2f s | wall %.2f, rdkafka_performance's clock %.2f, CPU %.2f |" % (
                row["workload"], row["mock_broker_seconds"], row["mock_broker_reported_seconds"],
                row["mock_broker_cpu_seconds"], row["tansu_seconds"], row["tansu_reported_seconds"],
                row["tansu_cpu_seconds"], row["ratio"], row["reported_ratio"], row["cpu_ratio"]))
        elif kind == "loopback":
            lines.append("| %s | %.0f MB/s, %.1f%% of record bytes by sendfile | iperf3 %.0f MB/s | %.2f |" % (
                row["workload"], row["ours_mb_per_second"], 100 * row["sendfile_share"], row["iperf3_mb_per_second"],
                row["ratio"]))
    return "\n".join(lines) + "\n"


# MARK: - Main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="records per produce/consume run (100 B)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side per workload (medians are reported)")
    parser.add_argument("--only", default="", help="comma-separated groups: produce,consume,group,latency,memory,broker,loopback")
    parser.add_argument("--json", default="", help="also write the table as JSON to this file")
    parser.add_argument("--markdown", default="", help="also write the table as Markdown to this file (BENCHMARKS.md's table)")
    args = parser.parse_args()
    groups = set(filter(None, args.only.split(","))) or {"produce", "consume", "group", "latency", "memory", "broker", "loopback"}
    count, rounds = args.count, args.rounds
    print("machine: %d cores, %s; librdkafka 2.16.0 (confluent-kafka wheel) unless noted; %d rounds, medians" % (
        os.cpu_count(), os.uname().release, rounds), flush=True)
    broker = MockBrokerProcess(partitions=3)
    try:
        warm_up(broker, count)
        if "produce" in groups:
            for codec in ("none", "lz4", "zstd", "snappy", "gzip"):
                produce_row(broker, "produce %d x 100 B, 3 partitions, %s, acks=1 (matched)" % (count, codec), count, 100,
                            MATCHED["ours"] + ["--compression", codec], MATCHED["theirs"] + ["-z", codec], rounds,
                            with_202=codec == "none")
            produce_row(broker, "produce %d x 100 B, acks=all, idempotent (matched)" % count, count, 100,
                        ["--acks", "all", "--idempotent", "true", "--linger-ms", "5", "--batch-size", "1000000"],
                        ["-a", "-1", "-X", "enable.idempotence=true", "-X", "linger.ms=5", "-X", "batch.size=1000000"], rounds)
            produce_row(broker, "produce %d x 10 KB, acks=1 (matched)" % (count // 20), count // 20, 10_000,
                        MATCHED["ours"], MATCHED["theirs"], rounds)
            produce_row(broker, "produce %d x 10 KB, each tool's defaults" % (count // 20), count // 20, 10_000, [], [],
                        rounds)
            # Java's 16 KB batch.size for both: one record a batch, so what a request costs each client, compared.
            produce_row(broker, "produce %d x 10 KB, batch.size=16384, acks=1 (matched)" % (count // 20), count // 20,
                        10_000, ["--acks", "1", "--linger-ms", "5", "--batch-size", "16384", "--idempotent", "false"],
                        ["-a", "1", "-X", "linger.ms=5", "-X", "batch.size=16384"], rounds)
            produce_row(broker, "produce %d x 100 B, each tool's defaults" % count, count, 100, [], [], rounds)
            produce_row(broker, "produce %d x 100 B, lz4, each tool's defaults" % count, count, 100, ["--compression", "lz4"],
                        ["-z", "lz4"], rounds)
        if "consume" in groups:
            consume_row(broker, "consume %d x 100 B, 3 partitions, none" % count, count, 3, "none", rounds, with_202=True)
            consume_row(broker, "consume %d x 100 B, 12 partitions, none" % count, count, 12, "none", rounds)
            consume_row(broker, "consume %d x 100 B, 3 partitions, lz4" % count, count, 3, "lz4", rounds)
            consume_row(broker, "consume %d x 100 B, 12 partitions, lz4" % count, count, 12, "lz4", rounds)
            consume_row(broker, "consume %d x 100 B, 3 partitions, CRCs checked by both" % count, count, 3, "none", rounds,
                        theirs_flags=["-X", "check.crcs=true"])
        if "group" in groups:
            group_row(broker, count, rounds, "consume, group of 2 members, 12 partitions, 100 B, range (matched)",
                      ["--assignor", "range"])
            group_row(broker, count, rounds, "consume, group of 2 members, 12 partitions, 100 B, each tool's defaults", [])
        if "latency" in groups:
            latency_row(broker, 10_000, 5, rounds)
    finally:
        broker.stop()
    if "memory" in groups:
        memory_row(8)
        consumer_memory_row(8)
    if "broker" in groups and TANSU:
        broker_rows(count, rounds)
    if "loopback" in groups:
        loopback_row(count, rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": ROWS, "count": count, "rounds": rounds}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(count, rounds))
    print(json.dumps({"rows": ROWS}))


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
