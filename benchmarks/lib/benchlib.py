"""Shared pieces of benchmarks/compare and benchmarks/quick.

One job each: install the peer servers, build the release binaries and the floor, make the
served files, put a server in its own cgroup, start and stop servers, probe what a server
negotiates (and whether that is the setting asked for), run volley-loadgen once and turn its
answer into one result record.
"""

import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
PEERS_DIR = os.path.join(REPO, ".build", "bench-peers")
ATFTPD_UNPACKED = os.path.join(PEERS_DIR, "atftpd", "usr", "sbin", "atftpd")
FLOOR_SOURCE = os.path.join(REPO, "benchmarks", "floor", "floor.c")
FLOOR_BIN = os.path.join(REPO, ".build", "bench-floor", "floor")
FLOOR_CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]
RAW_DIR = os.path.join(REPO, "benchmarks", "results", "raw")
DEFAULT_ROOT = "/tmp/volley-bench-root"
DEFAULT_PORT = 16969
CGROUP_NAME = "volley-bench"  # run_one adds the port: two sessions on two ports do not collide
SUDO = [] if os.geteuid() == 0 else ["sudo"]
MIB = 1 << 20

# name -> (server, mode): the two fields a result line carries.
SERVERS = {
    "volley": ("volley", "default"),
    "volley-single-port": ("volley", "single-port"),
    "volley-epoll": ("volley", "default, epoll only (--no-io-uring)"),
    "volley-metrics": ("volley", "default, control plane and metrics on"),
    "volley-events-5": ("volley", "control plane on, five event-stream subscribers reading"),
    "volley-events-stalled": ("volley", "control plane on, one event-stream subscriber that never reads"),
    "tftpd-hpa": ("tftpd-hpa", "fork per transfer"),
    "dnsmasq": ("dnsmasq", "one process"),
    "atftpd": ("atftpd", "thread per transfer"),
    "floor": ("floor", "C cost reference: epoll, a connected socket per transfer, GSO windows"),
}
PEERS = ("tftpd-hpa", "dnsmasq", "atftpd")


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(argv, **kwargs):
    """Runs a command, echoing it, and fails loudly."""
    log("+ " + " ".join(argv))
    return subprocess.run(argv, check=True, **kwargs)


def exit_cleanly_on_sigterm():
    """SIGTERM becomes SystemExit, so the running load generator is killed and the `finally`
    blocks stop the server and remove its cgroup (Ctrl-C does the same through KeyboardInterrupt)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def raise_nofile():
    """Raises RLIMIT_NOFILE to the hard limit; servers and the load generator inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------- peers

def _apt_env():
    return dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def _apt_install(packages):
    """apt-get install with services kept from starting (policy-rc.d answering 101)."""
    policy = "/usr/sbin/policy-rc.d"
    created = False
    if not os.path.exists(policy):
        run(SUDO + ["sh", "-c", f"printf '#!/bin/sh\\nexit 101\\n' > {policy} && chmod 755 {policy}"])
        created = True
    try:
        argv = SUDO + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + packages
        if subprocess.run(argv, env=_apt_env()).returncode != 0:
            run(SUDO + ["apt-get", "update", "-q"], env=_apt_env())
            run(argv, env=_apt_env())
    finally:
        if created:
            run(SUDO + ["rm", "-f", policy])


def _atftpd_conflicts_with_installed():
    """True when atftpd's package conflicts with an installed one (tftpd-hpa conflicts with it)."""
    show = subprocess.run(["apt-cache", "show", "atftpd"], capture_output=True, text=True).stdout
    theirs = set()
    for line in show.splitlines():
        if line.startswith("Conflicts:"):
            theirs |= {part.split()[0] for part in line[10:].replace("|", ",").split(",") if part.strip()}
        if not line.strip():
            break
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Provides}\t${Conflicts}\n"],
        capture_output=True, text=True).stdout
    for line in installed.splitlines():
        status, package, provides, conflicts = (line.split("\t") + ["", "", ""])[:4]
        if not status.startswith("ii"):
            continue
        names = {package} | {p.split()[0] for p in provides.split(",") if p.strip()}
        if names & theirs or "atftpd" in {c.split()[0] for c in conflicts.replace("|", ",").split(",") if c.strip()}:
            return True
    return False


def _unpacked_atftpd():
    """atftpd fetched with apt-get download and unpacked with dpkg -x under .build/bench-peers."""
    binary = ATFTPD_UNPACKED
    if not os.path.exists(binary):
        os.makedirs(PEERS_DIR, exist_ok=True)
        if subprocess.run(["apt-get", "download", "atftpd"], cwd=PEERS_DIR).returncode != 0:
            run(SUDO + ["apt-get", "update", "-q"], env=_apt_env())
            run(["apt-get", "download", "atftpd"], cwd=PEERS_DIR)
        deb = sorted(f for f in os.listdir(PEERS_DIR) if f.startswith("atftpd_") and f.endswith(".deb"))[-1]
        run(["dpkg", "-x", os.path.join(PEERS_DIR, deb), os.path.join(PEERS_DIR, "atftpd")])
    missing = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    if "not found" in missing:  # its libraries (libwrap0, libpcre2) come from Debian as usual
        _apt_install(["libwrap0", "libpcre2-8-0"])
    return binary


def find_peers():
    """The peer servers that are there now: {name: binary}."""
    candidates = {
        "tftpd-hpa": ["/usr/sbin/in.tftpd"],
        "dnsmasq": [shutil.which("dnsmasq"), "/usr/sbin/dnsmasq"],
        "atftpd": [shutil.which("atftpd"), "/usr/sbin/atftpd", ATFTPD_UNPACKED],
    }
    found = {}
    for name, paths in candidates.items():
        for path in paths:
            # atftpd's package also installs /usr/sbin/in.tftpd (a link to atftpd): not tftpd-hpa
            if name == "tftpd-hpa" and path and os.path.basename(os.path.realpath(path)) == "atftpd":
                continue
            if path and os.access(path, os.X_OK):
                found[name] = path
                break
    return found


def install_peers(names):
    """Installs the peer servers among `names` that are missing; returns find_peers()."""
    found = find_peers()
    if "tftpd-hpa" in names and "tftpd-hpa" not in found:
        _apt_install(["tftpd-hpa"])  # removes an apt-installed atftpd (they conflict): looked for again below
        found = find_peers()
    if "dnsmasq" in names and "dnsmasq" not in found:
        _apt_install(["dnsmasq-base"])  # just the binary, no service
    if "atftpd" in names and "atftpd" not in found:
        if _atftpd_conflicts_with_installed():
            _unpacked_atftpd()
        else:
            _apt_install(["atftpd"])
    return find_peers()


def peer_versions(binaries):
    """One version line per peer, for meta.json."""
    versions = {}
    for name, argv in (("tftpd-hpa", ["-V"]), ("dnsmasq", ["--version"]), ("atftpd", ["--version"])):
        if name in binaries:
            out = subprocess.run([binaries[name]] + argv, capture_output=True, text=True)
            versions[name] = ((out.stdout or out.stderr).strip().splitlines() or ["?"])[0]
    return versions


# ---------------------------------------------------------------- build and files

def build_release():
    """swift build -c release for volley and volley-loadgen; returns the bin path."""
    for product in ("volley", "volley-loadgen"):
        run(["swift", "build", "-c", "release", "--product", product], cwd=REPO)
    return release_bin_path()


def build_floor():
    """Compiles benchmarks/floor/floor.c into .build/bench-floor/floor when the binary is missing
    or older than the source (cc, about a second); returns its path. The new binary is renamed
    into place, so a concurrent session never runs a half-written one."""
    if os.path.exists(FLOOR_BIN) and os.path.getmtime(FLOOR_BIN) >= os.path.getmtime(FLOOR_SOURCE):
        return FLOOR_BIN
    os.makedirs(os.path.dirname(FLOOR_BIN), exist_ok=True)
    scratch = f"{FLOOR_BIN}.{os.getpid()}"
    run([os.environ.get("CC", "cc")] + FLOOR_CFLAGS + ["-o", scratch, FLOOR_SOURCE])
    os.replace(scratch, FLOOR_BIN)
    return FLOOR_BIN


def release_bin_path():
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout
    return out.strip()


def file_name(size_mib):
    return f"boot-{size_mib}MiB.img"


def make_root(root, sizes_mib):
    """Random files of the given sizes in a world-readable root, then read once into the page cache."""
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    for size in sizes_mib:
        path = os.path.join(root, file_name(size))
        if not os.path.exists(path) or os.path.getsize(path) != size * MIB:
            run(["sh", "-c", f"head -c {size * MIB} /dev/urandom > {path}.tmp && mv {path}.tmp {path}"])
        os.chmod(path, 0o644)
    for size in sizes_mib:  # warm the page cache before any server starts
        run(["sh", "-c", f"cat {os.path.join(root, file_name(size))} > /dev/null"])


# ---------------------------------------------------------------- cgroups (v1: cpuacct + memory)

class Cgroup:
    """One cgroup per run in the v1 cpuacct and memory hierarchies, made fresh and removed after."""

    CONTROLLERS = ("cpuacct", "memory")

    def __init__(self, name=CGROUP_NAME):
        self.paths = {c: f"/sys/fs/cgroup/{c}/{name}" for c in self.CONTROLLERS}

    @staticmethod
    def unavailable_reason():
        """None when v1 cpuacct and memory cgroups can be made here, else why not."""
        for controller in Cgroup.CONTROLLERS:
            base = f"/sys/fs/cgroup/{controller}"
            if not os.path.exists(os.path.join(base, "cgroup.procs")):
                return f"no cgroup v1 {controller} hierarchy at {base}"
            if not os.access(base, os.W_OK):
                return f"{base} is not writable"
        return None

    @property
    def cpu_dir(self):
        return self.paths["cpuacct"]

    def create(self):
        for path in self.paths.values():
            if os.path.isdir(path):
                if self._procs(path):
                    raise RuntimeError(f"{path} still holds processes {self._procs(path)}: "
                                       "a server of an earlier run is still alive")
            else:
                os.mkdir(path)
        self._write("memory", "memory.max_usage_in_bytes", "0")  # reset the peak

    def join(self, pid):
        """Puts pid into every hierarchy (children forked later inherit it)."""
        for controller in self.CONTROLLERS:
            self._write(controller, "cgroup.procs", str(pid))

    def pids(self):
        found = set()
        for path in self.paths.values():
            found |= set(self._procs(path))
        return sorted(found)

    def memory_peak_bytes(self):
        with open(os.path.join(self.paths["memory"], "memory.max_usage_in_bytes")) as f:
            return int(f.read())

    def remove(self):
        for path in self.paths.values():
            for _ in range(50):
                try:
                    if os.path.isdir(path):
                        os.rmdir(path)
                    break
                except OSError:
                    time.sleep(0.1)

    def _write(self, controller, name, value):
        with open(os.path.join(self.paths[controller], name), "w") as f:
            f.write(value)

    @staticmethod
    def _procs(path):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


# ---------------------------------------------------------------- servers

def binary_key(name):
    """Which entry of the binaries dict a server runs."""
    return "volley" if name.startswith("volley") else name


def server_argv(name, binaries, root, port, extra_args=()):
    """The command line each server runs with (foreground, 127.0.0.1 only), with extra_args
    (e.g. ["--reactors", "2"]) appended at its end.

    Volley runs with one reactor unless extra_args say otherwise: on this 2-core machine the
    load generator needs a core of its own, and a second reactor competing with it for the
    other only shrinks batches (benchmarks/reactors measures that; see the README)."""
    argv = _base_server_argv(name, binaries, root, port)
    if binary_key(name) == "volley" and "--reactors" not in extra_args:
        argv += ["--reactors", "1"]
    return argv + list(extra_args)


def _base_server_argv(name, binaries, root, port):
    if binary_key(name) == "volley":
        # Every load-generator client comes from 127.0.0.1: no per-client limits.
        argv = [binaries["volley"], "serve", "--root", root, "--host", "127.0.0.1",
                "--port", str(port), "--log-level", "warning",
                "--max-transfers-per-client", "0", "--request-rate-per-client", "0"]
        if name == "volley-metrics" or name.startswith("volley-events"):
            # Every transfer event also updates the Prometheus series and the event hub.
            argv += ["--control-listen", f"unix:{control_socket(port)}"]
        if name == "volley-epoll":
            # A system call per transfer socket, as where the kernel forbids io_uring.
            argv += ["--no-io-uring"]
        return argv + (["--single-port"] if name == "volley-single-port" else [])
    if name == "tftpd-hpa":
        # -L: listen in the foreground (forks a child per transfer, no limit on their number);
        # -s: chroot to the root (drops to user nobody, who can read the 0644 files).
        return [binaries["tftpd-hpa"], "-L", "-a", f"127.0.0.1:{port}", "-s", root]
    if name == "dnsmasq":
        # TFTP only (--port=0 turns DNS off), port 69 fixed; tftp-max raised from 50;
        # --edns-packet-max: dnsmasq caps blksize at its DNS packet buffer (1232 + 1035 - 4 = 2263
        # bytes by default), raising it lets blksize 8192 through;
        # --quiet-tftp: fewer log lines (it still logs one "sent" line per transfer).
        return [binaries["dnsmasq"], "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
                "--enable-tftp", f"--tftp-root={root}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--tftp-max=10000", "--edns-packet-max=65535", "--user=root", "--group=root",
                "--pid-file=", "--log-facility=-", "--quiet-tftp"]
    if name == "floor":
        # The cost reference (benchmarks/floor): no options beyond where to listen and what to serve.
        return [binaries["floor"], "--root", root, "--host", "127.0.0.1", "--port", str(port)]
    if name == "atftpd":
        # --no-fork keeps it our child; a thread per transfer, at most --maxthread;
        # --retry-timeout 1: the same 1 s first retransmission as the others (its default is 5 s);
        # --verbose=4 (LOG_WARNING): no line per transfer.
        return [binaries["atftpd"], "--daemon", "--no-fork", "--port", str(port),
                "--bind-address", "127.0.0.1", "--maxthread", "10000", "--retry-timeout", "1",
                "--verbose=4", "--logfile", "/dev/null", root]
    raise ValueError(f"unknown server {name}")


def control_socket(port):
    """The control plane's unix socket of a Volley run on `port` that has one."""
    return f"/tmp/volley-bench-control-{port}.sock"


def server_port(name, default_port):
    return 69 if name == "dnsmasq" else default_port


def udp_port_bound(port):
    """True when some UDP socket is bound to 127.0.0.1:port or *:port (read from /proc, no bind)."""
    return udp_sockets_bound(port) > 0


def udp_sockets_bound(port):
    """How many UDP sockets are bound to 127.0.0.1:port or *:port (several with SO_REUSEPORT)."""
    count = 0
    for table, wildcard, loopback in (("/proc/net/udp", "00000000", "0100007F"),
                                      ("/proc/net/udp6", "0" * 32, None)):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    address, hexport = line.split()[1].split(":")
                    if int(hexport, 16) == port and address in (wildcard, loopback):
                        count += 1
        except FileNotFoundError:
            pass
    return count


class Server:
    """A server started as our child, in its cgroup from its first instruction on."""

    def __init__(self, name, argv, port, cgroup, log_path):
        self.name, self.argv, self.port, self.cgroup = name, argv, port, cgroup
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        # preexec_fn runs in the child before exec: everything the server allocates is charged
        # to the cgroup, and every child it forks later inherits it.
        join = (lambda: cgroup.join(os.getpid())) if cgroup else None
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, preexec_fn=join)
        self.pid = self.proc.pid

    def wait_listening(self, seconds=10.0):
        """True once the port is bound while the process lives."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            if udp_port_bound(self.port):
                return True
            time.sleep(0.02)
        return False

    def crashed(self):
        return self.proc.poll() is not None

    def log_tail(self, lines=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read().strip().splitlines()[-lines:]
        except OSError:
            return []

    def stop(self):
        """SIGTERM, again after 8 s (volley: stop at once), SIGKILL after 3 s more; then whatever
        children are left in its cgroup (tftpd-hpa's) by their pids. Waits until all are gone."""
        for sig, wait in ((signal.SIGTERM, 8), (signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        self.log_file.close()
        for _ in range(100):
            leftovers = self.cgroup.pids() if self.cgroup else _children_of(self.pid)
            if not leftovers:
                return
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)


def _children_of(pid):
    """Processes whose parent is pid (tftpd-hpa's transfers when there is no cgroup)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


# ---------------------------------------------------------------- option probe

def probe_options(port, filename, blksize, windowsize, timeout=2.0):
    """Sends one RRQ with blksize, tsize (and windowsize when > 1), reads the answer, ends the
    transfer with ERROR 8 (like UEFI's size probe) and returns what the server negotiated:
    {"oack": {option: value}} or {"oack": None, "answer": "DATA"/"ERROR n"/"none"}."""
    options = [("blksize", blksize), ("tsize", 0)] + ([("windowsize", windowsize)] if windowsize > 1 else [])
    rrq = b"\x00\x01" + filename.encode() + b"\x00octet\x00"
    rrq += b"".join(f"{k}\x00{v}\x00".encode() for k, v in options)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        for _ in range(3):
            s.sendto(rrq, ("127.0.0.1", port))
            try:
                data, peer = s.recvfrom(70000)
                break
            except socket.timeout:
                continue
        else:
            return {"oack": None, "answer": "none"}
        opcode = struct.unpack("!H", data[:2])[0]
        s.sendto(b"\x00\x05\x00\x08probe done\x00", peer)
        if opcode == 6:
            fields = data[2:].split(b"\x00")
            pairs = {fields[i].decode().lower(): fields[i + 1].decode() for i in range(0, len(fields) - 1, 2) if fields[i]}
            return {"oack": {k: int(v) if v.isdigit() else v for k, v in pairs.items()}}
        if opcode == 5:
            return {"oack": None, "answer": f"ERROR {struct.unpack('!H', data[2:4])[0]}"}
        return {"oack": None, "answer": "DATA" if opcode == 3 else f"opcode {opcode}"}


def negotiation_problem(rec):
    """None when the probe of this run got the setting asked for (blksize, and windowsize when
    > 1, both in an OACK), else what the server did instead, e.g. 'ignores windowsize'; such a
    run is not a valid comparison at its setting. Records without a probe count as valid."""
    negotiated = rec.get("negotiated")
    if negotiated is None:
        return None
    oack = negotiated.get("oack")
    if oack is None:
        return f"no OACK ({negotiated.get('answer', '?')})"
    problems = []
    if oack.get("blksize") != rec["blksize"]:
        problems.append(f"blksize {oack.get('blksize', 'not answered')}")
    if rec["windowsize"] > 1 and oack.get("windowsize") != rec["windowsize"]:
        problems.append("ignores windowsize" if "windowsize" not in oack else f"windowsize {oack['windowsize']}")
    return ", ".join(problems) or None


# ---------------------------------------------------------------- one run

def run_one(name, binaries, root, size_mib, clients, blksize, windowsize, deadline_s,
            use_cgroup=True, port=DEFAULT_PORT, log_stem="run", settle_ms=300, server_args=(), companions=None):
    """Starts `name` fresh, runs the load generator once against it, stops it; returns the record.
    server_args are appended to the server's command line (see server_argv). companions, when
    given, is called with the port once the server listens and returns the processes to run
    beside the load (e.g. event-stream subscribers); they are ended by PID when the run ends.

    status: ok | failed (some clients failed) | timeout (deadline hit) | hung (the load
    generator did not end by itself) | server-crashed | server-start-failed | port-busy |
    loadgen-error."""
    server, mode = SERVERS[name]
    fname = file_name(size_mib)
    local = os.path.join(root, fname)
    cgroup_name = f"{CGROUP_NAME}-{port}"  # the session's port, also for dnsmasq (always on 69)
    port = server_port(name, port)
    os.makedirs(os.path.join(RAW_DIR, "logs"), exist_ok=True)
    record = {
        "server": server, "mode": mode, "label": name, "blksize": blksize, "windowsize": windowsize,
        "clients": clients, "file_size": size_mib * MIB, "deadline_s": deadline_s,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if udp_port_bound(port):
        return dict(record, status="port-busy", errors={"port-busy": 1}, note=f"UDP port {port} already bound")
    cgroup = Cgroup(cgroup_name) if use_cgroup else None
    if cgroup:
        cgroup.create()
    argv = server_argv(name, binaries, root, port, server_args)
    record["server_argv"] = argv
    srv = None
    beside = []
    started = time.monotonic()
    try:
        srv = Server(name, argv, port, cgroup, os.path.join(RAW_DIR, "logs", log_stem + ".server.log"))
        record["server_pid"] = srv.pid
        if not srv.wait_listening():
            record.update(status="server-start-failed", server_log=srv.log_tail())
            return record
        record["negotiated"] = probe_options(port, fname, blksize, windowsize)
        if companions:
            beside = companions(port)
        timeout_s = deadline_s + 30
        argv = ["timeout", "-k", "5", str(timeout_s), binaries["volley-loadgen"],
                "--file", fname, "--local", local, "--server", "127.0.0.1", "--port", str(port),
                "--clients", str(clients), "--blksize", str(blksize), "--tsize",
                "--deadline-s", str(deadline_s), "--settle-ms", str(settle_ms), "--json",
                "--server-pid", str(srv.pid)]
        argv += ["--windowsize", str(windowsize)] if windowsize > 1 else []
        argv += ["--server-cgroup", cgroup.cpu_dir] if cgroup else []
        record["loadgen_argv"] = argv
        with open(os.path.join(RAW_DIR, "logs", log_stem + ".loadgen.err"), "wb") as err:
            done = _run_interruptible(argv, err)
        record["loadgen_exit"] = done.returncode
        # The server's sockets on its port once every reactor is up (one listener per reactor).
        record["server_listeners"] = udp_sockets_bound(port)
        if cgroup:
            record["cgroup_memory_peak_bytes"] = cgroup.memory_peak_bytes()
        crashed = srv.crashed()
        if crashed:
            record["server_exit"] = srv.proc.returncode
            record["server_log"] = srv.log_tail()
        report = None
        try:
            report = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
        except (json.JSONDecodeError, IndexError):
            pass
        if done.returncode == 124 or done.returncode == -9 or done.returncode == 137:
            record["status"] = "hung"
        elif report is None:
            record["status"] = "loadgen-error"
        else:
            record.update(_from_report(report))
            if report["failed"] == 0:
                record["status"] = "ok"
            elif report.get("errors", {}).get("deadline"):
                record["status"] = "timeout"
            else:
                record["status"] = "failed"
        if crashed:
            record["status"] = "server-crashed"
        return record
    finally:
        for companion in beside:
            if companion.poll() is None:
                companion.kill()
            companion.wait()
        if srv:
            srv.stop()
        if cgroup:
            cgroup.remove()
        record["wall_s"] = round(time.monotonic() - started, 3)


def _run_interruptible(argv, err):
    """subprocess.run, except that on Ctrl-C or SIGTERM the child gets SIGTERM, which timeout(1)
    hands on to the load generator (a SIGKILL would leave the load generator running)."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        out, _ = child.communicate()
    except BaseException:
        child.terminate()
        child.wait()
        raise
    return subprocess.CompletedProcess(argv, child.returncode, out)


def _from_report(r):
    """The load generator's JSON, flattened to the result line's fields."""
    d = r.get("duration_ms") or {}
    return {
        "clients_ok": r["ok"], "clients_failed": r["failed"], "bytes_verified": r["bytes_verified"],
        "makespan_s": r["makespan_s"], "aggregate_mb_s": r["aggregate_mb_s"],
        "p50_ms": d.get("p50"), "p99_ms": d.get("p99"), "max_ms": d.get("max"),
        "retransmits": r["retransmits"], "rrq_retransmits": r.get("rrq_retransmits"),
        "server_retransmits_seen": r["server_retransmits_seen"], "gaps": r["gaps"],
        "missing_oacks": r["missing_oacks"], "foreign_datagrams": r["foreign_datagrams"],
        "errors": r["errors"],
        "server_cpu_s": r["server_cpu_s"], "server_cpu_source": r["server_cpu_source"],
        "server_cpu_s_per_gb": r["server_cpu_s_per_gb"],
        "server_vmhwm_kib": r["server_peak_rss_kib"],
        "loadgen_cpu_s": r.get("loadgen_cpu_s"),
    }


def status_text(rec):
    """'ok', or e.g. 'timeout 45 s (812/1000 ok)'."""
    status = rec.get("status", "?")
    if status == "ok":
        return "ok"
    ok = rec.get("clients_ok")
    counts = f" ({ok}/{rec['clients']} ok)" if ok is not None else ""
    if status == "timeout":
        return f"timeout {rec.get('deadline_s')} s{counts}"
    return status + counts
