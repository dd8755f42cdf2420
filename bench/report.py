#!/usr/bin/env python3
"""Prints grid_bench's JSON results as markdown tables: Grid next to its baselines, with ratios,
and the performance targets with PASS/MISS. Usage: report.py RESULTS.json (stdlib only)."""
import json
import re
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    results = {}
    for bench in data.get("benchmarks", []):
        name = re.sub(r"/(iterations:\d+|real_time)", "", bench["name"])
        results[name] = bench
    return data.get("context", {}), results


def fmt(value, digits=2):
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


class Report:
    def __init__(self, results):
        self.results = results
        self.targets = []

    def get(self, name, counter):
        bench = self.results.get(name)
        if bench is None or bench.get("error_occurred"):
            return None
        return bench.get(counter)

    def status(self, name):
        bench = self.results.get(name)
        if bench is None:
            return "not run"
        if bench.get("error_occurred"):
            return bench.get("error_message", "error")
        return ""

    def table(self, title, header, rows):
        print(f"\n### {title}\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")

    def exec_section(self):
        pipe = self.get("exec/floor/pipe_bash", "p50_ms")
        http = self.get("exec/floor/http_loopback", "p50_ms")
        floor = pipe + http if pipe is not None and http is not None else None
        names = [
            ("exec/floor/pipe_bash", "floor: bash round trip over a pipe"),
            ("exec/floor/http_loopback", "floor: HTTP round trip on loopback (Poco)"),
            ("exec/grid/local-namespace", "Grid session exec, local-namespace"),
            ("exec/grid/docker", "Grid session exec, docker"),
            ("exec/grid/podman", "Grid session exec, podman"),
            ("exec/baseline/engine_api/docker", "Docker Engine API exec create+start"),
            ("exec/baseline/engine_api/podman", "Podman compat API exec create+start"),
            ("exec/baseline/docker_cli", "`docker exec CID true`"),
        ]
        rows = []
        for name, label in names:
            p50 = self.get(name, "p50_ms")
            rows.append([label, fmt(p50, 3), fmt(self.get(name, "p90_ms"), 3),
                         fmt(self.get(name, "p99_ms"), 3), fmt(ratio(p50, floor), 1),
                         self.status(name)])
        rows.insert(2, ["floor: pipe + HTTP", fmt(floor, 3), "", "", "1.0", ""])
        self.table("Exec round trip (`true`), ms",
                   ["what", "p50", "p90", "p99", "p50 / floor", "note"], rows)
        for backend in ("local-namespace", "docker", "podman"):
            p50 = self.get(f"exec/grid/{backend}", "p50_ms")
            self.target(f"session exec p50 ({backend}) within 3x of pipe + HTTP floor",
                        ratio(p50, floor), 3.0)

    def lifecycle_section(self):
        names = [
            ("lifecycle/grid/docker", "Grid, docker"),
            ("lifecycle/baseline/engine_api/docker", "Docker Engine API create/start/delete"),
            ("lifecycle/baseline/docker_cli", "`docker run -d` / `docker rm -f`"),
            ("lifecycle/grid/podman", "Grid, podman"),
            ("lifecycle/baseline/podman_cli", "`podman run -d` / `podman rm -f -t 0`"),
            ("lifecycle/grid/local-namespace", "Grid, local-namespace"),
            ("lifecycle/baseline/bwrap", "bwrap over the Debian rootfs, `bash -c true`"),
            ("lifecycle/baseline/unshare", "`unshare --pid --mount ... --mount-proc true`"),
            ("lifecycle/baseline/overlay_mount", "overlayfs mount + umount"),
        ]
        rows = []
        for name, label in names:
            create = self.get(name, "create_start_p50_ms") or self.get(name, "p50_ms")
            delete = self.get(name, "delete_p50_ms")
            total = create + delete if create is not None and delete is not None else create
            rows.append([label, fmt(create), fmt(self.get(name, "create_start_p90_ms")),
                         fmt(delete), fmt(total), self.status(name)])
        self.table("Sandbox create+start and delete, ms (p50 unless noted)",
                   ["what", "create+start", "create+start p90", "delete", "total", "note"],
                   rows)

        def total(name):
            c = self.get(name, "create_start_p50_ms")
            d = self.get(name, "delete_p50_ms")
            return c + d if c is not None and d is not None else None

        self.target("docker create+start+delete within 1.1x of raw Engine API",
                    ratio(total("lifecycle/grid/docker"),
                          total("lifecycle/baseline/engine_api/docker")), 1.1)
        self.target("local-namespace create+start under 3x of bwrap",
                    ratio(self.get("lifecycle/grid/local-namespace", "create_start_p50_ms"),
                          self.get("lifecycle/baseline/bwrap", "p50_ms")), 3.0)

    def throughput_section(self):
        rows = []
        sizes = sorted({int(n.rsplit("/", 1)[1]) for n in self.results
                        if n.startswith("throughput/")})
        for size in sizes:
            base = self.get(f"throughput/baseline/docker_cli/{size}", "lifecycles_per_s")
            for name, label in [
                (f"throughput/grid/local-namespace/{size}", "Grid, local-namespace"),
                (f"throughput/grid/docker/{size}", "Grid, docker"),
                (f"throughput/grid/podman/{size}", "Grid, podman"),
                (f"throughput/baseline/docker_cli/{size}", "parallel docker run/exec/rm"),
            ]:
                rate = self.get(name, "lifecycles_per_s")
                rows.append([str(size), label, fmt(rate), fmt(self.get(name, "lifecycle_p50_ms")),
                             fmt(ratio(rate, base), 1), self.status(name)])
        self.table("Throughput: N lifecycles (create, start, 10 execs, delete), 10 at a time",
                   ["N", "what", "lifecycles/s", "lifecycle p50 ms", "vs docker CLI", "note"],
                   rows)

    def scale_section(self):
        rows = []
        for name in sorted(n for n in self.results if n.startswith("scale/")):
            backend, size = name.split("/")[2:4]
            rows.append([backend, size, fmt(self.get(name, "rss_mb"), 1),
                         fmt(self.get(name, "threads"), 0),
                         fmt(self.get(name, "rss_per_sandbox_kb"), 0),
                         fmt(self.get(name, "threads_per_sandbox"), 1),
                         fmt(self.get(name, "busy_exec_p50_ms"), 3),
                         fmt(self.get(name, "busy_exec_p99_ms"), 3), self.status(name)])
        self.table("Scale: server with N idle sandboxes; exec latency with N sandboxes busy",
                   ["backend", "N", "server RSS MB", "threads", "RSS/sandbox KB",
                    "threads/sandbox", "exec p50 ms (N busy)", "exec p99 ms", "note"], rows)
        for backend in ("local-namespace", "docker"):
            per = self.get(f"scale/grid/{backend}/100", "rss_per_sandbox_kb")
            self.target(f"server memory per idle sandbox ({backend}) < 1 MB",
                        None if per is None else per / 1024.0, 1.0, unit="MB")

    def output_section(self):
        rows = []
        for backend in ("local-namespace", "docker", "podman"):
            name = f"output/grid/{backend}"
            rows.append([backend, fmt(self.get(name, "p50_ms")),
                         fmt(self.get(name, "output_mb_per_s")),
                         fmt(self.get(name, "peak_rss_mb"), 1),
                         fmt(self.get(name, "peak_growth_mb"), 1), self.status(name)])
        self.table("Output: one exec printing 100 MB (server keeps 1 MB)",
                   ["backend", "time ms (p50)", "MB/s", "server peak RSS MB",
                    "peak growth MB", "note"], rows)

    def stream_section(self):
        rows = []
        for backend in ("local-namespace", "docker", "podman"):
            name = f"stream/first_byte/grid/{backend}"
            p50 = self.get(name, "first_byte_p50_ms")
            rows.append([backend, fmt(p50), fmt(self.get(name, "first_byte_p90_ms")),
                         fmt(self.get(name, "first_byte_p99_ms")), self.status(name)])
            self.target(f"live output first byte p50 ({backend}) within 50 ms", p50, 50, unit="ms")
        self.table("Live output: `echo x; sleep 1` streamed, request to first output event, ms",
                   ["backend", "p50", "p90", "p99", "note"], rows)

    def pause_section(self):
        rows = []
        for name, label in (
                ("pause/grid/local-namespace", "Grid, local-namespace (cgroup freezer)"),
                ("pause/grid/docker", "Grid, docker"),
                ("pause/baseline/engine_api/docker", "Docker Engine API pause/unpause"),
                ("pause/grid/podman", "Grid, podman"),
                ("pause/baseline/engine_api/podman", "Podman compat API pause/unpause")):
            rows.append([label, fmt(self.get(name, "pause_p50_ms")),
                         fmt(self.get(name, "resume_p50_ms")), fmt(self.get(name, "p50_ms")),
                         fmt(self.get(name, "p90_ms")), self.status(name)])
        self.table("Pause and resume round trip, ms",
                   ["what", "pause p50", "resume p50", "round trip p50", "round trip p90",
                    "note"], rows)

    def target(self, label, value, limit, unit="x"):
        self.targets.append((label, value, limit, unit))

    def targets_section(self):
        rows = []
        for label, value, limit, unit in self.targets:
            verdict = "n/a" if value is None else ("PASS" if value <= limit else "MISS")
            rows.append([label, fmt(value), f"{limit} {unit}", verdict])
        self.table("Targets", ["target", "measured", "limit", "verdict"], rows)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS.json")
    context, results = load(sys.argv[1])
    print(f"grid_bench on {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs, "
          f"{context.get('date', '')}")
    report = Report(results)
    report.exec_section()
    report.lifecycle_section()
    report.throughput_section()
    report.scale_section()
    report.output_section()
    report.stream_section()
    report.pause_section()
    report.targets_section()


if __name__ == "__main__":
    main()
