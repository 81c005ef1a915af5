"""Mailer throughput: 10,000 patrons' Saturday online-loan mails into Postfix's smtp-sink.

Prints the mailer's rate (trigger published → 10,000 ``sent`` outcomes), the peak RSS of
the mailer process, the rate of a bare aiosmtplib loop sending pre-built messages to the
same sink in the same run, and their ratio. ``--dkim`` signs every mail (a 2048-bit key).

The bare loop runs just before the mailer and again just after it, and the ratio is taken
against the mean of the two: this VM's speed drifts by tens of percent within minutes, and
a baseline measured on one side only made single runs' ratios swing from 0.6 to 1.1.

    .venv/bin/python bench/mailer_throughput.py [--patrons 10000] [--dkim] [--replicas 2]

``--replicas 2`` runs two mailer processes sharing the durable consumers (as in
production with two pods); CPU is summed over them and RSS is the largest one's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import aiosmtplib
import nats
from nats.js import JetStreamContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.bus.provision import provision  # noqa: E402
from shared.clock import JST  # noqa: E402
from shared.contracts.ils import LoanItem, LoanOnlineIssued  # noqa: E402
from shared.contracts.schedule import BatchWindow, TriggerFired  # noqa: E402
from tests.support.nats import start_nats  # noqa: E402
from tests.support.procs import start_service  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

THURSDAY = date(2026, 12, 3)
BATCH = BatchWindow(
    thursday=THURSDAY, pickup_start=date(2026, 12, 6), pickup_deadline=date(2026, 12, 13)
)
SATURDAY = datetime(2026, 12, 5, 9, 0, tzinfo=JST)
DOMAINS = ("docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "gmail.com", "example.jp")


def event(n: int) -> LoanOnlineIssued:
    return LoanOnlineIssued(
        event_id=f"bench-{n:06d}",
        occurred_at=datetime(2026, 12, 3, 11, 0, tzinfo=JST),
        patron_id=f"P{n:07d}",
        email=f"patron{n}@{DOMAINS[n % len(DOMAINS)]}",
        batch_thursday=THURSDAY,
        pickup_library_no=1 + n % 59 if 1 + n % 59 != 14 else 15,
        items=[
            LoanItem(
                loan_id=f"L{n}-{i}",
                item_id=f"1{n:07d}{i}",
                title=f"資料 {i}",
                due_date=date(2026, 12, 20),
            )
            for i in range(1 + n % 3)
        ],
    )


async def publish_all(js: JetStreamContext, events: list[LoanOnlineIssued]) -> None:
    sem = asyncio.Semaphore(256)

    async def one(e: LoanOnlineIssued) -> None:
        async with sem:
            await js.publish(
                e.subject(), e.model_dump_json().encode(), headers={"Nats-Msg-Id": e.event_id}
            )

    await asyncio.gather(*(one(e) for e in events))


async def wait_consumer_done(js: JetStreamContext, stream: str, durable: str) -> None:
    while True:
        try:
            info = await js.consumer_info(stream, durable)
            if info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq:
                return
        except nats.js.errors.NotFoundError:
            pass
        await asyncio.sleep(0.1)


async def count_sent(js: JetStreamContext) -> int:
    info = await js.stream_info("MAIL", subjects_filter="mail.outcome.sent")
    return sum((info.state.subjects or {}).values())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bare_loop(port: int, messages: list[bytes]) -> tuple[float, float]:
    """Mails/s and CPU ms per mail (this process does nothing else meanwhile)."""
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, start_tls=False, local_hostname="plib.pref.aomori.lg.jp"
    )
    await client.connect()
    started, cpu = time.monotonic(), time.process_time()
    for i, data in enumerate(messages):
        await client.sendmail("bounce@plib.pref.aomori.lg.jp", [f"p{i}@example.jp"], data)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    await client.quit()
    return len(messages) / elapsed, 1000 * cpu / len(messages)


def sample_messages(n: int) -> list[bytes]:
    from services.mailer.compose import Envelope, compose

    out = []
    for i in range(min(n, 200)):
        e = event(i)
        env = Envelope(
            to=e.email,
            from_addr="online-lending@plib.pref.aomori.lg.jp",
            from_name="オンライン貸出サービス担当",
            message_id=f"<bench.{i}@plib.pref.aomori.lg.jp>",
            date=SATURDAY,
        )
        out.append(
            compose("online_loan", [e], batch=BATCH, run_date=SATURDAY.date(), envelope=env).data
        )
    return [out[i % len(out)] for i in range(n)]


def dkim_key(tmp: Path) -> Path:
    key = tmp / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    return key


async def main(args: argparse.Namespace) -> None:
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink_bin).exists():
        raise SystemExit("smtp-sink not found: apt-get install -y postfix")
    with tempfile.TemporaryDirectory(prefix="otayori-bench-") as tmpdir:
        tmp = Path(tmpdir)
        server = start_nats(tmp / "nats")
        port = free_port()
        sink = subprocess.Popen([sink_bin, "-u", "nobody", f"127.0.0.1:{port}", "1000"])
        try:
            await run_bench(args, tmp, server.url, port, [server.process.pid, sink.pid])
        finally:
            sink.terminate()
            sink.wait()
            server.stop()


async def run_bench(
    args: argparse.Namespace, tmp: Path, url: str, port: int, others: list[int]
) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await provision(js)
    events = [event(n) for n in range(args.patrons)]
    messages = sample_messages(args.bare)
    bare_before, bare_cpu_before = await bare_loop(port, messages)
    env = {
        "OTAYORI_NATS_URL": url,
        "OTAYORI_SMTP_HOST": "127.0.0.1",
        "OTAYORI_SMTP_PORT": str(port),
        "OTAYORI_CLOCK_START": SATURDAY.isoformat(),
        "OTAYORI_LOG_LEVEL": "WARNING",
        "OTAYORI_GROUP_RATE": "other=0",
        "OTAYORI_GROUP_CONCURRENCY": "docomo=16,au=16,softbank=16,gmail=16,yahoo_japan=16,other=32",
    }
    if args.dkim:
        env["OTAYORI_DKIM_SELECTOR"] = "bench"
        env["OTAYORI_DKIM_KEY_FILE"] = str(dkim_key(tmp))
    if args.profile:
        env["OTAYORI_PROFILE_TO"] = args.profile
    mailers = [start_service("mailer", env, tmp, tag=f"-{i}") for i in range(args.replicas)]
    try:
        await publish_all(js, events)
        await wait_consumer_done(js, "ILS", "mailer-ils")
        trigger = TriggerFired(
            event_id="bench-trigger",
            occurred_at=SATURDAY,
            trigger="weekly-loan-mail",
            occurrence_id="weekly-loan-mail:bench",
            nominal_time=SATURDAY,
            run_date=SATURDAY.date(),
            batch=BATCH,
        )
        pids = [m.process.pid for m in mailers]
        started = time.monotonic()
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        others_before = [cpu_seconds(pid) for pid in others]
        await js.publish(trigger.subject(), trigger.model_dump_json().encode())
        while (sent := await count_sent(js)) < args.patrons:
            for mailer in mailers:
                if mailer.process.poll() is not None:
                    raise SystemExit(f"mailer exited: {mailer.log()[-2000:]}")
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        nats_cpu, sink_cpu = (
            cpu_seconds(pid) - before for pid, before in zip(others, others_before, strict=True)
        )
        rss = max(peak_rss_mb(pid) for pid in pids)
    finally:
        for mailer in mailers:
            mailer.terminate()
    rate = sent / elapsed
    bare_after, bare_cpu_after = await bare_loop(port, messages)
    bare, bare_cpu = (bare_before + bare_after) / 2, (bare_cpu_before + bare_cpu_after) / 2
    await nc.close()
    print(
        f"mailer: {sent} mails in {elapsed:.1f} s = {rate:.0f} mails/s"
        f" (dkim={'on' if args.dkim else 'off'}, {args.replicas} process(es))"
    )
    print(f"mailer CPU: {cpu:.1f} s = {1000 * cpu / sent:.2f} ms/mail")
    print(
        f"meanwhile nats-server CPU {1000 * nats_cpu / sent:.2f} ms/mail,"
        f" smtp-sink {1000 * sink_cpu / sent:.2f} ms/mail"
    )
    print(f"mailer peak RSS: {rss:.0f} MB (largest process)")
    print(
        f"bare aiosmtplib loop: {bare:.0f} mails/s (before {bare_before:.0f},"
        f" after {bare_after:.0f}), CPU {bare_cpu:.2f} ms/mail"
    )
    print(f"ratio mailer/bare: {rate / bare:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patrons", type=int, default=10_000)
    parser.add_argument("--bare", type=int, default=5_000, help="messages for the bare loop")
    parser.add_argument("--dkim", action="store_true")
    parser.add_argument(
        "--replicas", type=int, default=1, help="mailer processes sharing the consumers"
    )
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(parser.parse_args()))
