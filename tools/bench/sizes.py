"""`make bench-sizes`: cold start against model size, bundled and from S3, each against its own floor.

Sizes: all-MiniLM-L6-v2 (87 MB), all-mpnet-base-v2 (416 MB), and two encoders with random
weights built through the project's own export (tools/bench/synthetic.py): BERT-large's
configuration (~1.3 GB) and XLM-R-large's (~2.2 GB). A cold start is a fresh process,
spawn -> imports -> model load -> first /predict answered (tools.bench.run.cold_process).

For each size and source, medians over runs that alternate template and floor:

- bundled: MODEL_ARTIFACT_DIR, the files on this machine's disk with the page cache warm (a
  warm-up run reads them first). Lambda's image cache is not this disk: the figure isolates
  what our code adds to reading the bytes. Floor: tools/bench/minimal_handler.py (the
  session created from the files, which reads them; no verification).
- S3: published with tools.publish to a SeaweedFS server on loopback started here; every
  run an empty cache directory (a cold /tmp). Floor: tools/bench/minimal_s3_handler.py
  (plain parallel ranged GETs, zstd frames decompressed into place, the session created;
  no verification), so at the speed this storage gives.

Beside them, bundled only: the naive handler (torch + transformers from_pretrained on the
model's safetensors, every size by default: 2.2 GB takes seconds, not minutes, and fits in
memory here; --naive-max-mb leaves out the larger ones, and the table says so), and
fastembed 0.9.1 on the same ONNX files (tools/bench/peers.py; left out, with the reason,
when .venv-peers is missing). The template's init phases come from its own trace (the
median run's): read_manifest, fetch_artifact (with each file's verify_ms), import_backend,
await_verification, create_session, warmup..., and the share of hashing at the largest
size: await_verification / floor, and the fetch's summed verify_ms / floor.

Writes build/bench/sizes.json, sizes.md, sizes.png.

    python -m tools.bench.sizes [--runs 5] [--quick] [--only all-MiniLM-L6-v2,...] [--no-s3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench import peers, synthetic
from tools.bench.run import REPO_ROOT, cold_process, compile_like_the_image, packaged_artifact

TARGET_OVER_FLOOR = 1.2
# The bench's head-to-head check that two handlers computed the same embedding.
SAME_OUTPUT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Size:
    name: str
    # the Hugging Face model directory: the naive handler loads it, fastembed reads its tokenizer config
    kind: str  # "packaged" or "synthetic"

    def artifact_dir(self) -> Path:
        if self.kind == "synthetic":
            return synthetic.artifact_dir(self.name)
        return packaged_artifact(self.name)

    def model_dir(self) -> Path:
        if self.kind == "synthetic":
            return synthetic.model_dir(self.name)
        from tools.export import packaged_model_dir

        return packaged_model_dir(self.name)


SIZES = (Size("all-MiniLM-L6-v2", "packaged"), Size("all-mpnet-base-v2", "packaged"),
         Size("bert-large-random", "synthetic"), Size("xlmr-large-random", "synthetic"))


def weights_bytes(artifact_dir: Path) -> int:
    manifest = json.loads((artifact_dir / "manifest.json").read_text())
    return sum(int(f["size"]) for f in manifest["files"])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def phase_table(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Median duration of each init phase over the runs' traces; the fetch's summed verify_ms."""
    durations: dict[str, list[float]] = {}
    verify: list[float] = []
    for report in reports:
        # A phase may occur more than once in an init (await_verification before the session and
        # before serving): its run's figure is the sum.
        run: dict[str, float] = {}
        for phase in (report.get("trace") or {}).get("phases", []):
            run[phase["name"]] = run.get(phase["name"], 0.0) + phase["duration_ms"]
            if phase["name"] == "fetch_artifact":
                files = (phase.get("attributes") or {}).get("files", [])
                verify.append(sum(f.get("verify_ms", 0.0) for f in files))
        for name, total in run.items():
            durations.setdefault(name, []).append(total)
    table = {name: median(values) for name, values in durations.items()}
    return {"phases_ms": table, "fetch_verify_ms": median(verify) if verify else None}


def same_output(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Whether two probes' first embeddings agree (None when one did not report it)."""
    head_a, head_b = a.get("output_head"), b.get("output_head")
    if not head_a or not head_b:
        return None
    return all(abs(x - y) <= SAME_OUTPUT_TOLERANCE for x, y in zip(head_a, head_b, strict=False))


def warm_page_cache(directory: Path) -> None:
    """Read every file under ``directory``, so that a run starts with the page cache warm (said in the table).

    And write back what is dirty first: a publish (or a cache the run before filled) leaves
    gigabytes for the kernel to flush in the background, which otherwise lands in a later
    run (seen: single runs 2 s slower at 1.3 and 2.2 GB, template and floor alike).
    """
    os.sync()
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(16 << 20):
                    pass


class S3Fixture:
    """SeaweedFS on loopback with every size published; a fresh cache directory per run."""

    def __init__(self, scratch: Path) -> None:
        from tools.local.s3server import SeaweedS3

        self.scratch = scratch
        self.server = SeaweedS3()
        self.entries: dict[str, dict[str, Any]] = {}
        self.registry = scratch / "models.json"
        self.publish_s: dict[str, float] = {}

    def __enter__(self) -> S3Fixture:
        self.server.start()
        self.server.client().create_bucket(Bucket="models")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    def publish(self, name: str, artifact_dir: Path) -> None:
        from tools.publish import publish, write_registry_entry

        started = time.perf_counter()
        result = publish(artifact_dir, "s3://models/bench/", client=self.server.client(), progress=False)
        self.publish_s[name] = time.perf_counter() - started
        self.entries[name] = result["entry"]
        write_registry_entry(self.registry, name, result["entry"])

    def env(self, **extra: str) -> dict[str, str]:
        # The loopback server's throwaway credentials (it accepts any).
        return {"AWS_ENDPOINT_URL_S3": self.server.endpoint_url, "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",  # nosec B105
                "AWS_REGION": "us-east-1", **extra}

    def template(self, name: str) -> dict[str, Any]:
        warm_page_cache(self.server.data_dir)  # the server's volumes, as bundled files are (see measure_size)
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=self.scratch))
        try:
            return cold_process("template", extra_env=self.env(MODEL_REGISTRY=str(self.registry), MODEL_NAME=name,
                                                                MODEL_CACHE_DIR=str(cache)))
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    def floor(self, name: str) -> dict[str, Any]:
        warm_page_cache(self.server.data_dir)
        target = Path(tempfile.mkdtemp(prefix="floor-", dir=self.scratch))
        try:
            return cold_process("minimal_s3", extra_env=self.env(FLOOR_S3_SOURCE=self.entries[name]["source"],
                                                                  FLOOR_DIR=str(target)))
        finally:
            shutil.rmtree(target, ignore_errors=True)


def alternate(runs: int, first: Any, second: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``runs`` of each, alternating which goes first, so the machine's drift hits both alike."""
    a: list[dict[str, Any]] = []
    b: list[dict[str, Any]] = []
    for i in range(runs):
        if i % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


def summarise(template: list[dict[str, Any]], floor: list[dict[str, Any]]) -> dict[str, Any]:
    t = median([r["cold_start_s"] for r in template])
    f = median([r["cold_start_s"] for r in floor])
    row: dict[str, Any] = {
        "template_s": t, "floor_s": f, "template_over_floor": t / f,
        "template_runs": [r["cold_start_s"] for r in template], "floor_runs": [r["cold_start_s"] for r in floor],
        "template_peak_rss_mb": median([r["peak_rss_mb"] for r in template]),
        "floor_peak_rss_mb": median([r["peak_rss_mb"] for r in floor]),
        "same_output_as_floor": same_output(template[0], floor[0]),
        **phase_table(template),
    }
    stats = [r["stats"] for r in floor if r.get("stats")]
    if stats:
        row["floor_fetch_s"] = median([s["fetch_s"] for s in stats])
        row["floor_fetch_mib_per_s"] = median([s["mib_per_s"] for s in stats])
        row["compressed_bytes"] = stats[0]["compressed_bytes"]
    return row


def measure_size(size: Size, runs: int, *, naive: bool, naive_runs: int, s3: S3Fixture | None,
                 fastembed_python: Path | None, fastembed_skipped: str = "") -> dict[str, Any]:
    artifact_dir = size.artifact_dir()
    total = weights_bytes(artifact_dir)
    row: dict[str, Any] = {"model": size.name, "kind": size.kind, "weights_mb": total / 1e6,
                           "weights_mib": total / 2**20}
    print(f"== {size.name}: {total / 1e6:.0f} MB", flush=True)

    def bundled(handler: str) -> dict[str, Any]:
        # Before every run, not once: this machine's kernel reclaims cold page-cache pages on its
        # own (DAMON), and a run that met a half-evicted 2 GB file measured the disk, not us.
        warm_page_cache(artifact_dir)
        return cold_process(handler, artifact_dir)

    bundled("template")  # a warm-up run, not counted: caches as a later run finds them
    template, floor = alternate(runs, lambda: bundled("template"), lambda: bundled("minimal"))
    row["bundled"] = summarise(template, floor)
    b = row["bundled"]
    print(f"   bundled  template {b['template_s']:.3f} s  floor {b['floor_s']:.3f} s  "
          f"ratio {b['template_over_floor']:.2f}", flush=True)

    if naive:
        env = {"NAIVE_MODEL_DIR": str(size.model_dir())}
        naive_reports = [cold_process("naive", artifact_dir, extra_env=env) for _ in range(naive_runs)]
        row["naive"] = {"cold_start_s": median([r["cold_start_s"] for r in naive_reports]),
                        "runs": [r["cold_start_s"] for r in naive_reports],
                        "peak_rss_mb": median([r["peak_rss_mb"] for r in naive_reports])}
        print(f"   naive    {row['naive']['cold_start_s']:.3f} s", flush=True)
    else:
        row["naive"] = {"skipped": "left out above --naive-max-mb"}

    if fastembed_python is not None:
        env = {"FASTEMBED_MODEL_DIR": str(peers.fastembed_dir(artifact_dir, size.model_dir()))}
        reports = [cold_process("fastembed", artifact_dir, python=fastembed_python, extra_env=env)
                   for _ in range(runs)]
        row["fastembed"] = {"cold_start_s": median([r["cold_start_s"] for r in reports]),
                            "runs": [r["cold_start_s"] for r in reports],
                            "peak_rss_mb": median([r["peak_rss_mb"] for r in reports]),
                            "same_output_as_template": same_output(reports[0], template[0])}
        print(f"   fastembed {row['fastembed']['cold_start_s']:.3f} s", flush=True)
    else:
        row["fastembed"] = {"skipped": fastembed_skipped}

    if s3 is not None:
        s3.publish(size.name, artifact_dir)
        s3.template(size.name)  # warm-up: the server's own caches, as every later run finds them
        template_s3, floor_s3 = alternate(runs, lambda: s3.template(size.name), lambda: s3.floor(size.name))
        row["s3"] = {**summarise(template_s3, floor_s3), "publish_s": s3.publish_s[size.name]}
        s = row["s3"]
        print(f"   s3       template {s['template_s']:.3f} s  floor {s['floor_s']:.3f} s  "
              f"ratio {s['template_over_floor']:.2f}", flush=True)
    return row


def run(sizes: list[Size], runs: int, out_dir: Path, *, s3: bool, naive_max_mb: float, naive_runs: int,
        fastembed: bool) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    synthetic.ensure([s.name for s in sizes if s.kind == "synthetic"], model_dirs=naive_max_mb > 0)
    fastembed_python = peers.peers_python() if fastembed else None
    fastembed_skipped = ("--no-fastembed" if not fastembed else f"no {peers.PEERS_VENV.name} with fastembed "
                         f"{peers.FASTEMBED_VERSION} (make bench-sizes makes it)")
    if fastembed and fastembed_python is None:
        print(f"fastembed left out: {fastembed_skipped}", flush=True)
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-sizes-", dir=REPO_ROOT / "build"))
    try:
        fixture = S3Fixture(scratch) if s3 else None
        if fixture is not None:
            fixture.__enter__()
        try:
            for size in sizes:
                naive = weights_bytes(size.artifact_dir()) / 1e6 <= naive_max_mb
                rows.append(measure_size(size, runs, naive=naive, naive_runs=naive_runs, s3=fixture,
                                         fastembed_python=fastembed_python, fastembed_skipped=fastembed_skipped))
        finally:
            if fixture is not None:
                fixture.__exit__(None, None, None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    largest = max(rows, key=lambda r: r["weights_mb"])
    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "runs": runs, "naive_runs": naive_runs,
                    "naive_max_mb": naive_max_mb},
        "target_template_over_floor_max": TARGET_OVER_FLOOR,
        "sizes": rows,
        "hashing_at_largest": hashing_share(largest),
    }
    results["targets_met"] = {
        f"{r['model']}/{source}": r[source]["template_over_floor"] <= TARGET_OVER_FLOOR
        for r in rows for source in ("bundled", "s3") if source in r
    }
    (out_dir / "sizes.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "sizes.md").write_text(markdown(results))
    plot(results, out_dir / "sizes.png")
    return results


def hashing_share(row: dict[str, Any]) -> dict[str, Any]:
    """What verification costs at the largest size, against that size's own floor."""
    share: dict[str, Any] = {"model": row["model"], "weights_mb": row["weights_mb"]}
    for source in ("bundled", "s3"):
        if source not in row:
            continue
        r = row[source]
        awaited = r["phases_ms"].get("await_verification")
        share[source] = {
            "await_verification_ms": awaited,
            "fetch_verify_ms": r.get("fetch_verify_ms"),
            "floor_ms": r["floor_s"] * 1000,
            "await_over_floor": awaited / (r["floor_s"] * 1000) if awaited is not None else None,
            "verify_over_floor": (r["fetch_verify_ms"] / (r["floor_s"] * 1000)
                                  if r.get("fetch_verify_ms") is not None else None),
        }
    return share


PHASES = ("runtime_and_imports", "read_manifest", "fetch_artifact", "import_backend", "await_verification",
          "create_session", "load_tokenizer", "import_api", "warmup")


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [f"Cold start (fresh process: spawn -> first /predict answered), medians of {m['runs']} runs alternating "
             f"template and floor; naive: {m['naive_runs']} runs; {m['cpus']} CPUs, Python {m['python']}. Bundled: "
             "page cache warm (Lambda's image cache is not this disk: the figure isolates our overhead). S3: "
             "SeaweedFS on loopback, an empty cache directory every run. Floor: the bytes read (S3: plain parallel "
             "GETs, zstd decompressed) + the ONNX Runtime session, no verification.", "",
             "| model | weights (MB) | source | template (s) | floor (s) | template / floor | naive (s) "
             "| fastembed (s) | peak RSS (MB): template / floor / naive / fastembed |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in r["sizes"]:
        for source in ("bundled", "s3"):
            if source not in row:
                continue
            s = row[source]
            ok = "" if s["template_over_floor"] <= TARGET_OVER_FLOOR else " (over 1.2)"
            bundled = source == "bundled"
            naive, fast = row["naive"], row["fastembed"]
            naive_cell = _fmt(naive["cold_start_s"]) if "cold_start_s" in naive else "skipped (size)"
            naive_cell = naive_cell if bundled else "-"
            fast_cell = (_fmt(fast["cold_start_s"]) if "cold_start_s" in fast else "n/a") if bundled else "-"
            rss = [s["template_peak_rss_mb"], s["floor_peak_rss_mb"]]
            rss += [naive.get("peak_rss_mb"), fast.get("peak_rss_mb")] if bundled else [None, None]
            extra = ""
            if source == "s3" and s.get("floor_fetch_mib_per_s"):
                extra = f" (floor GETs {s['floor_fetch_mib_per_s']:.0f} MiB/s)"
            lines.append(f"| {row['model']} | {row['weights_mb']:.0f} | {source}{extra} | {s['template_s']:.3f} | "
                         f"{s['floor_s']:.3f} | {s['template_over_floor']:.2f}{ok} | {naive_cell} | {fast_cell} | "
                         f"{' / '.join(_fmt(v, '.0f') for v in rss)} |")
    lines += ["", "Template init phases, ms (median over the runs of each phase's duration; phases overlap: "
              "fetch_artifact's hashing runs beside import_backend):", ""]
    columns = [(row["model"], source, row[source]) for row in r["sizes"] for source in ("bundled", "s3")
               if source in row]
    lines.append("| phase | " + " | ".join(f"{name} {source}" for name, source, _ in columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    names = [p for p in PHASES if any(p in c[2]["phases_ms"] for c in columns)]
    names += sorted({p for c in columns for p in c[2]["phases_ms"]} - set(names))
    for phase in names:
        lines.append(f"| {phase} | " + " | ".join(_fmt(c[2]["phases_ms"].get(phase), ".0f") for c in columns) + " |")
    lines.append("| fetch: files' verify_ms (summed) | "
                 + " | ".join(_fmt(c[2].get("fetch_verify_ms"), ".0f") for c in columns) + " |")
    h = r["hashing_at_largest"]
    lines += ["", f"Hashing at {h['model']} ({h['weights_mb']:.0f} MB), against its floor:"]
    for source in ("bundled", "s3"):
        if source in h:
            x = h[source]
            # bundled: await_verification is what the hash added to the critical path (it runs beside
            # the session); S3: it is the whole transfer (fetched, verified, decompressed) the session awaits.
            waited = "hashing left when the session was ready" if source == "bundled" else "the transfer awaited"
            lines.append(f"- {source}: await_verification ({waited}) {_fmt(x['await_verification_ms'], '.0f')} ms = "
                         f"{_fmt(x['await_over_floor'], '.1%')} of the floor ({x['floor_ms']:.0f} ms); the hashing "
                         f"work (BLAKE3; sha256 without it) {_fmt(x['fetch_verify_ms'], '.0f')} ms, "
                         f"summed over files and threads = {_fmt(x['verify_over_floor'], '.1%')} of the floor")
    checks = [f"{row['model']}: fastembed's embedding {'matches' if ok else 'DIFFERS from'} the template's"
              for row in r["sizes"] if (ok := row["fastembed"].get("same_output_as_template")) is not None]
    if checks:
        lines += ["", "Same weights, same answer: " + "; ".join(checks) + "."]
    return "\n".join(lines) + "\n"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = r["sizes"]
    x = [row["weights_mb"] for row in rows]
    figure, axis = plt.subplots(figsize=(8, 5))
    series = [("template, bundled", "bundled", "template_s", "C0", "-o"),
              ("floor, bundled", "bundled", "floor_s", "C0", ":o"),
              ("template, S3", "s3", "template_s", "C1", "-s"),
              ("floor, S3", "s3", "floor_s", "C1", ":s")]
    for label, source, key, color, style in series:
        points = [(xi, row[source][key]) for xi, row in zip(x, rows, strict=True) if source in row]
        if points:
            axis.plot(*zip(*points, strict=True), style, color=color, label=label)
    for label, key, color in (("naive (torch), bundled", "naive", "C3"), ("fastembed, bundled", "fastembed", "C2")):
        points = [(xi, row[key]["cold_start_s"]) for xi, row in zip(x, rows, strict=True)
                  if row[key].get("cold_start_s") is not None]
        if points:
            axis.plot(*zip(*points, strict=True), "-^", color=color, label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("weights (MB)")
    axis.set_ylabel("cold start: spawn -> first /predict (s)")
    axis.set_title("Cold start against model size")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="2 runs, 1 naive run, no XLM-R-large (2.2 GB): a check that it all works")
    parser.add_argument("--only", default="", help=f"comma-separated sizes among {', '.join(s.name for s in SIZES)}")
    parser.add_argument("--no-s3", action="store_true", help="bundled only")
    parser.add_argument("--no-fastembed", action="store_true")
    parser.add_argument("--naive-max-mb", type=float, default=3000.0,
                        help="run the naive handler up to this size (torch loads it all; 0: never)")
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - {s.name for s in SIZES}
    if unknown:
        parser.error(f"unknown size(s) {', '.join(sorted(unknown))}")
    sizes = [s for s in SIZES if not names or s.name in names]
    runs, naive_runs = args.runs, args.naive_runs
    if args.quick:
        runs, naive_runs = 2, 1
        sizes = [s for s in sizes if s.name != "xlmr-large-random" or names]
    if runs < 1 or naive_runs < 1:
        parser.error("--runs and --naive-runs must be at least 1")
    compile_like_the_image()
    run(sizes, runs, args.out, s3=not args.no_s3, naive_max_mb=args.naive_max_mb, naive_runs=naive_runs,
        fastembed=not args.no_fastembed)
    print()
    print((args.out / "sizes.md").read_text())
    print(f"wrote {args.out / 'sizes.json'}, {args.out / 'sizes.md'}, {args.out / 'sizes.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

