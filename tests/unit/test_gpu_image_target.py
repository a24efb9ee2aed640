"""`make gpu-image` makes an image Lambda accepts (issue 14): one linux/amd64 manifest, no attestations.

GIVEN an ECR repository URI, WHEN make prints what gpu-image would run (``make -n``: nothing is
built or pushed), THEN the build is buildx for linux/amd64 without provenance or SBOM
attestations (Lambda refuses an image index), pushed to that repository, after creating the
repository in the URI's region when it is missing. A URI that is not ECR's is refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
URI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/fast-inference"


def dry_run(uri: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-n", "gpu-image", f"GPU_IMAGE_REPOSITORY={uri}"],
                          cwd=ROOT, capture_output=True, text=True, check=True)


def test_gpu_image_builds_one_amd64_manifest_and_creates_the_repository() -> None:
    commands = " ".join(dry_run(URI).stdout.replace("\\\n", " ").split())
    assert "docker buildx build --platform linux/amd64 --provenance=false --sbom=false --target runtime-gpu" in commands
    assert f"-t {URI}:runtime-gpu-" in commands and "--push" in commands
    assert ("aws ecr describe-repositories --region eu-west-1 --repository-names team/fast-inference" in commands
            and "|| aws ecr create-repository --region eu-west-1 --repository-name team/fast-inference" in commands)
    assert "docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com" in commands
    # the repository exists before the push needs it
    assert commands.index("create-repository") < commands.index("docker buildx build")


def test_gpu_image_refuses_a_uri_that_is_not_ecr() -> None:
    result = subprocess.run(["make", "--no-print-directory", "gpu-image", "GPU_IMAGE_REPOSITORY=docker.io/me/img"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "set GPU_IMAGE_REPOSITORY to an ECR repository URI" in result.stdout
