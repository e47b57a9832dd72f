"""Start N replicas of the app behind nginx on one machine (for testing and for a small server).

    python deploy/replicas.py --replicas 2 --port 8080

Each replica is ``streamlit run dashboard/app.py`` on its own port (127.0.0.1 only), in hosted
mode unless ``--local``, all sharing one run store (``$NNCORE_RUN_STORE``, by default the
SQLite file ``runs/runs.sqlite``: WAL lets several processes of one machine share it; across
machines use PostgreSQL) and one ``server.cookieSecret`` (``$NNCORE_COOKIE_SECRET``, or a random
one made here, passed through the environment, never on the command line). nginx (Debian's
package) listens on ``--port`` with ``deploy/nginx.conf.template`` filled in: WebSocket
upgrade and sticky sessions by a cookie. Ctrl-C stops everything.

``bench/bench_load.py --replicas N`` uses :class:`Cluster` from here.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "deploy", "nginx.conf.template")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port(host="127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def nginx_config(ports, listen, prefix, fail_timeout_s=10) -> str:
    """The nginx configuration for replicas on ``ports`` of 127.0.0.1."""
    with open(TEMPLATE, encoding="utf-8") as f:
        text = f.read()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout={fail_timeout_s}s;"
                        for p in ports)
    user = "user root;" if os.geteuid() == 0 else ""   # workers may write the temp folders
    return (text.replace("@SERVERS@", servers).replace("@LISTEN@", str(listen))
            .replace("@PREFIX@", prefix).replace("@USER@", user))


def connections_to(port) -> int:
    """Established TCP connections to local ``port`` (from /proc/net/tcp): nginx's open
    sockets to a replica, one per browser tab it serves."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


def wait_healthy(url, timeout=90.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /_stcore/health within {timeout:.0f} s")


class Cluster:
    """N app replicas and nginx in front of them. ``url`` is nginx's address."""

    def __init__(self, n=2, port=None, env=None, hosted=True, log_dir=None):
        self.n, self.port = n, port or free_port()
        self.prefix = tempfile.mkdtemp(prefix="nncore-nginx-")
        self.log_dir = log_dir or self.prefix
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("NNCORE_HOSTED", "1" if hosted else "0")
        self.env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET",
                            self.env.get("NNCORE_COOKIE_SECRET") or secrets.token_hex(32))
        self.ports = [free_port() for _ in range(n)]
        self.replicas: list[subprocess.Popen | None] = [None] * n
        self.nginx = None
        self.url = f"http://127.0.0.1:{self.port}"

    def replica_url(self, i) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start_replica(self, i):
        cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
               "--server.headless", "true", "--server.port", str(self.ports[i]),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        with open(os.path.join(self.log_dir, f"replica-{i}.log"), "ab") as log:
            self.replicas[i] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)
        return self.replicas[i]

    def start(self):
        for i in range(self.n):
            self.start_replica(i)
        for i in range(self.n):
            wait_healthy(self.replica_url(i), proc=self.replicas[i])
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(nginx_config(self.ports, f"127.0.0.1:{self.port}", self.prefix))
        self.nginx = subprocess.Popen([NGINX, "-p", self.prefix, "-c", conf, "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_healthy(self.url, timeout=20, proc=self.nginx)
        return self

    def kill(self, i):
        """``kill -9`` replica ``i`` (no shutdown handler runs)."""
        proc = self.replicas[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def busiest(self) -> int:
        """The replica with the most open connections from nginx (the one serving a tab)."""
        return max(range(self.n), key=lambda i: connections_to(self.ports[i]))

    def pids(self) -> list[int]:
        return [p.pid for p in self.replicas if p is not None and p.poll() is None]

    def stop(self):
        procs = [p for p in self.replicas if p is not None]
        if self.nginx is not None:
            procs.append(self.nginx)
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--port", type=int, default=8080, help="nginx listens here")
    ap.add_argument("--local", action="store_true", help="local mode instead of hosted")
    args = ap.parse_args(argv)
    if args.replicas < 1:
        ap.error("--replicas must be at least 1")
    if not os.path.exists(NGINX):
        sys.exit("nginx not found: apt-get install nginx")
    logs = os.path.join(ROOT, "runs", "logs")
    os.makedirs(logs, exist_ok=True)
    cluster = Cluster(args.replicas, args.port, hosted=not args.local, log_dir=logs)
    cluster.start()
    print(f"{args.replicas} replicas on ports {', '.join(map(str, cluster.ports))}; "
          f"nginx on {cluster.url} (logs in {logs}); Ctrl-C stops them", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            time.sleep(1)
            for i, p in enumerate(cluster.replicas):
                if p.poll() is not None:
                    print(f"replica {i} exited ({p.returncode}); starting it again", flush=True)
                    cluster.start_replica(i)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
