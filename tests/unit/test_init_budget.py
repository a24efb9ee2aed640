"""The init budget (tools/template/init_budget.py): recorded inits, scaled to memory, against Lambda's 10 s.

Every figure here is a recorded one fed in, never a time taken by the test: the check's
arithmetic and its verdicts are what is under test. One test measures a real init (the
tiny model, one fresh process) to show the build records it and the manifest still verifies.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inference_runtime.artifact import read_manifest, verify_artifact
from inference_runtime.artifact.manifest import InitRecord, ManifestError, manifest_bytes
from tools.template import generate
from tools.template.init_budget import (
    HEADROOM,
    InitBudgetError,
    check,
    check_served,
    estimate_init_s,
    main,
    smallest_memory_that_fits,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def record(init_s: float, *, cores: float = 1.0, rss_mb: float = 300.0) -> InitRecord:
    """A recorded init of ``init_s`` seconds that kept ``cores`` cores busy, on a 2-CPU build machine."""
    return InitRecord(init_ms=init_s * 1000, cpu_ms=init_s * 1000 * cores, cpus=2, python="3.12.7",
                      measured_at="2026-12-03", runs=3, peak_rss_mb=rss_mb)


def test_a_model_that_would_not_fit_on_demand_is_refused_with_the_fix() -> None:
    # GIVEN a single-threaded init of 6 s on the build machine, at 1,024 MB (0.58 vCPU)
    verdict = check(record(6.0), name="big", memory_mb=1024)
    # THEN it stretches by 1769/1024 (x headroom) past 10 s and is refused, saying what to turn on
    assert verdict.estimate_s == pytest.approx(6.0 * 1769 / 1024 * HEADROOM)
    assert not verdict.allowed and not verdict.fits_on_demand
    assert "over the on-demand init limit of 10 s, where Lambda would retry init inside the first request" \
        in verdict.message
    assert "Serve it with SnapStart (StandardSnapStart=true) or provisioned concurrency (the premium tier)" \
        in verdict.message
    assert f"or give its function at least {smallest_memory_that_fits(record(6.0))} MB of memory" in verdict.message


def test_a_model_that_fits_passes() -> None:
    # GIVEN the same init at 3,008 MB: a whole vCPU and more, so a one-core init does not stretch
    verdict = check(record(6.0), name="big", memory_mb=3008)
    assert verdict.allowed and verdict.fits_on_demand
    assert verdict.estimate_s == pytest.approx(6.0 * HEADROOM)
    assert verdict.message.endswith("fits the on-demand init limit of 10 s")


def test_over_10_s_on_demand_passes_with_snapstart_or_provisioned_concurrency() -> None:
    slow = record(9.0)   # 11.25 s estimated at any memory: HEADROOM alone takes it past 10 s
    assert not check(slow, name="slow", memory_mb=3008).allowed
    with_snapstart = check(slow, name="slow", memory_mb=3008, snapstart=True)
    with_pc = check(slow, name="slow", memory_mb=3008, provisioned_concurrency=2)
    assert with_snapstart.allowed and not with_snapstart.fits_on_demand
    assert "allowed with SnapStart" in with_snapstart.message
    assert with_pc.allowed and "allowed with provisioned concurrency (2)" in with_pc.message
    # AND no memory size rescues it on demand, which the refusal says
    assert smallest_memory_that_fits(slow) is None
    assert "no memory size is enough on demand" in check(slow, name="slow", memory_mb=3008).message


def test_a_parallel_init_stretches_by_the_cores_it_used() -> None:
    # GIVEN an init that kept 4 cores busy for 2 s: at 3,008 MB Lambda has 1.7 vCPUs
    four = record(2.0, cores=4.0)
    assert estimate_init_s(four, 3008) == pytest.approx(2.0 * 4.0 / (3008 / 1769) * HEADROOM)
    # AND at 10,240 MB the 6-vCPU cap applies: 4 busy cores fit, no stretch
    assert estimate_init_s(four, 10240) == pytest.approx(2.0 * HEADROOM)


def test_too_little_memory_for_the_process_is_refused_whatever_the_init() -> None:
    verdict = check(record(0.5, rss_mb=900.0), name="m", memory_mb=1024, snapstart=True)
    assert not verdict.allowed and "peaked at 900 MB" in verdict.message and "raise the memory" in verdict.message


def test_the_command_line_exits_1_with_the_message_and_0_with_snapstart(tmp_path: Path, tiny_artifact_dir: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tmp_path / "big"
    shutil.copytree(tiny_artifact_dir, artifact)
    data = json.loads((artifact / "manifest.json").read_text())
    data["init"] = record(9.0).to_dict()
    (artifact / "manifest.json").write_text(json.dumps(data))
    assert main([str(artifact), "--memory-mb", "3008"]) == 1
    assert "Serve it with SnapStart" in capsys.readouterr().err
    assert main([str(artifact), "--memory-mb", "3008", "--snapstart"]) == 0
    assert "allowed with SnapStart" in capsys.readouterr().out
    # AND an artifact with no record says how to get one
    assert main([str(tiny_artifact_dir)]) == 2
    assert "no recorded init" in capsys.readouterr().err


def test_make_template_refuses_a_served_model_that_would_not_fit(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the RAG example's list (a served reranker at 2,048 MB) and a built reranker whose init was 9 s
    artifacts = tmp_path / "artifacts"
    (artifacts / "ms-marco-MiniLM-L-6-v2").mkdir(parents=True)
    (artifacts / "ms-marco-MiniLM-L-6-v2" / "manifest.json").write_text(json.dumps({"init": record(9.0).to_dict()}))
    out = tmp_path / "template.yaml"
    args = ["--models", str(REPO_ROOT / "examples" / "rag" / "models.json"), "--out", str(out),
            "--artifacts", str(artifacts)]
    # WHEN make template runs THEN it refuses, naming the model and the fix, and writes nothing
    assert generate.main(args) == 2
    err = capsys.readouterr().err
    assert "ms-marco-MiniLM-L-6-v2: init measured 9.00 s" in err and "A served model's function is on demand" in err
    assert not out.exists()
    # AND with an init that fits, the template is written
    (artifacts / "ms-marco-MiniLM-L-6-v2" / "manifest.json").write_text(json.dumps({"init": record(1.0).to_dict()}))
    assert generate.main(args) == 0 and out.is_file()


def test_served_models_without_a_record_are_listed_unchecked(tmp_path: Path) -> None:
    assert check_served((("never-built", 2048),), tmp_path) == ["never-built"]
    with pytest.raises(InitBudgetError, match="over the on-demand init limit"):
        (tmp_path / "big").mkdir()
        (tmp_path / "big" / "manifest.json").write_text(json.dumps({"init": record(9.0).to_dict()}))
        check_served((("big", 2048),), tmp_path)


def test_the_record_travels_in_the_manifest_and_its_absence_changes_no_byte(tiny_artifact_dir: Path) -> None:
    manifest = read_manifest(tiny_artifact_dir)
    assert manifest.init is None
    assert manifest_bytes(manifest) == (tiny_artifact_dir / "manifest.json").read_bytes()
    with pytest.raises(ManifestError, match="'init'"):
        InitRecord.from_dict({"init_ms": 1.0})


def test_the_build_measures_and_records_the_init(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN a built artifact WHEN the build's init step runs one fresh process on it
    from tools.build_artifact import record_init

    artifact = tmp_path / "tiny"
    shutil.copytree(tiny_artifact_dir, artifact)
    measured = record_init(artifact, read_manifest(artifact), runs=1)
    # THEN the manifest on disk carries the record, and every file still verifies against it
    assert measured is not None and measured.init is not None
    on_disk = read_manifest(artifact)
    assert on_disk.init == measured.init
    assert on_disk.init.init_ms > 0 and on_disk.init.cpus >= 1 and on_disk.init.peak_rss_mb > 0
    verify_artifact(artifact)
    assert on_disk.version == read_manifest(tiny_artifact_dir).version
