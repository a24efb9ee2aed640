"""The inference image's runtime stage as a file tree, built without Docker.

`sam build` builds the inference functions' image with Docker, which a machine running
`make test` may not have. This module carries out the final stage of
functions/inference/Dockerfile into a directory instead, instruction by instruction, so
that the emulator can run what the image would hold (tests/integration/test_image_tree.py):

    FROM ${LAMBDA_BASE}    must be the Lambda Python 3.12 base image; what that image itself
                           provides (awslambdaric, boto3, at requirements.lock's pins) goes
                           into a separate base directory
    ARG, ENV, WORKDIR      recorded, and ${VAR} expanded, as Docker does
    COPY src... dest       from the build context (the repository root), .dockerignore honoured
    COPY --from=export /artifact dest
                           the artifact `make artifact` builds: the export stage's own command
                           (python -m tools.build_artifact --out /artifact), run here already
    RUN a && b && ...      each command one of: pip install (run as written with the Python 3.12
                           here; it must name Lambda's platform and take wheels only), python -m
                           compileall (with that Python 3.12), rm
    CMD ["module.handler"] the handler
    LABEL                  metadata, nothing to do

Anything else is an error, so a Dockerfile change the stand-in cannot follow fails the test
instead of being silently left out. Image paths map into the tree: the image's /var/task (its
task root) is ``<tree>/root/var/task``, and the stage may write nothing outside /var/task that
survives it (the function would not see it here). The tree is cached under build/image-tree/,
keyed by a hash of the Dockerfile, .dockerignore, every file the stage copies and this module.

    python -m tools.local.image_tree          # build (or find) the tree, print what it holds
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import logging
import os
import posixpath
import re
import shlex
import shutil
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .emulator import DEFAULT_ARTIFACT_DIR, FUNCTIONS, REPO_ROOT, FunctionSpec

DOCKERFILE = REPO_ROOT / "functions" / "inference" / "Dockerfile"
CACHE_DIR = REPO_ROOT / "build" / "image-tree"
LOCK_FILE = REPO_ROOT / "requirements.lock"

# What the final stage must start from, and what that image brings with it.
LAMBDA_BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
TASK_ROOT = "/var/task"
BASE_IMAGE_ENV = {"LAMBDA_TASK_ROOT": TASK_ROOT, "LAMBDA_RUNTIME_DIR": "/var/runtime"}
# Image paths (mapped into the tree), not this machine's.
BASE_IMAGE_DIRS = frozenset({"/", "/var", TASK_ROOT, "/var/runtime", "/tmp", "/opt"})  # nosec B108
BASE_PACKAGES = ("awslambdaric", "boto3")
# Lambda's platform, as pip names it: CPython 3.12 on x86_64 (template.yaml's Architectures).
LAMBDA_PLATFORM_ARGS = ("--only-binary=:all:", "--implementation", "cp", "--python-version", "3.12",
                        "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64")
# The export stage's command whose output `COPY --from=export /artifact` takes.
EXPORT_STAGE = "export"
EXPORT_PATH = "/artifact"
EXPORT_COMMAND = "python -m tools.build_artifact --out /artifact"

# A cache entry another test run may still be using is left alone for this long.
PRUNE_AFTER_S = 3600

KNOWN_INSTRUCTIONS = ("ARG", "ENV", "WORKDIR", "LABEL", "COPY", "RUN", "CMD")
_SHELL_OPERATORS = set("();<>|&")

logger = logging.getLogger(__name__)


class ImageTreeError(RuntimeError):
    """Raised when the Dockerfile's runtime stage cannot be carried out without Docker, or a step fails."""


# --- reading the Dockerfile -----------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int

    def where(self, dockerfile: Path) -> str:
        return f"{_shown(dockerfile)}:{self.line} ({self.keyword})"


@dataclass
class Stage:
    name: str | None
    base: str
    line: int
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined and comment lines dropped, as Docker reads them."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if re.match(r"#\s*escape\s*=", stripped) and not instructions and not pending:
            raise ImageTreeError(f"line {number}: the escape parser directive is not supported")
        if stripped.startswith("#") or (not stripped):
            continue  # Docker drops comment and empty lines, also inside a continued instruction
        if not pending:
            start = number
        body = raw.rstrip()
        if body.endswith("\\"):
            pending.append(body[:-1])
            continue
        pending.append(raw)
        keyword, _, arguments = "".join(pending).strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = []
    if pending:
        raise ImageTreeError(f"line {start}: the file ends inside a continued instruction")
    return instructions


_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:?[-+?][^}]*)?\}"
                       r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def expand(text: str, variables: Mapping[str, str], where: str) -> str:
    """``$NAME`` and ``${NAME}`` from ``variables``; an undefined name is an error, not an empty string."""
    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        if match["modifier"]:
            raise ImageTreeError(f"{where}: ${{{name}{match['modifier']}}} is not supported by the stand-in")
        if name not in variables:
            raise ImageTreeError(f"{where}: ${name} is not defined (no ARG or ENV sets it)")
        return variables[name]
    return _VARIABLE.sub(substitute, text)


def split_stages(instructions: list[Instruction], dockerfile: Path) -> list[Stage]:
    """The stages, each FROM's image resolved with the ARGs declared before the first FROM."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        where = instruction.where(dockerfile)
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            if words and words[0].startswith("--"):
                raise ImageTreeError(f"{where}: FROM {words[0]} is not supported by the stand-in")
            if len(words) == 3 and words[1].upper() == "AS":
                image, name = words[0], words[2]
            elif len(words) == 1:
                image, name = words[0], None
            else:
                raise ImageTreeError(f"{where}: expected FROM image [AS name], got {instruction.arguments!r}")
            stages.append(Stage(name, expand(image, global_args, where), instruction.line))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ImageTreeError(f"{where}: only ARG may come before the first FROM")
            name, _, default = instruction.arguments.partition("=")
            global_args[name.strip()] = default.strip()
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise ImageTreeError(f"{_shown(dockerfile)} has no FROM")
    return stages


class DockerIgnore:
    """.dockerignore: the last pattern matching a path (or one of its parent directories) decides."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[re.Pattern[str], bool]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = posixpath.normpath(line[1:].strip() if include else line).lstrip("/")
            if pattern not in ("", "."):
                self.rules.append((re.compile(_glob_regex(pattern)), not include))

    def excluded(self, relative: str) -> bool:
        parts = relative.split("/")
        candidates = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
        result = False
        for regex, exclude in self.rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                result = exclude
        return result


def _glob_regex(pattern: str) -> str:
    """Docker's (Go filepath.Match) patterns, with ``**`` for any number of directories."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char in "[\\":
            raise ImageTreeError(f".dockerignore pattern {pattern!r}: character classes and escapes "
                                 "are not supported by the stand-in")
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


# --- planning the final stage -----------------------------------------------------------

@dataclass(frozen=True)
class _Copy:
    files: tuple[tuple[Path, str], ...]     # (file on this machine, path in the image)


@dataclass(frozen=True)
class _Run:
    commands: tuple[tuple[str, ...], ...]
    env: tuple[tuple[str, str], ...]
    workdir: str
    where: str


@dataclass
class _Plan:
    steps: list[_Copy | _Run] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()


def plan_runtime_stage(dockerfile: Path = DOCKERFILE, context: Path = REPO_ROOT,
                       artifact_dir: Path = DEFAULT_ARTIFACT_DIR) -> _Plan:
    """Read the Dockerfile's final stage into steps, or raise for anything the stand-in cannot do."""
    stages = split_stages(parse_dockerfile(dockerfile.read_text()), dockerfile)
    final = stages[-1]
    if final.base != LAMBDA_BASE_IMAGE:
        raise ImageTreeError(f"{_shown(dockerfile)}:{final.line}: the final stage starts FROM {final.base}; "
                             f"the stand-in knows only {LAMBDA_BASE_IMAGE}")
    earlier = {stage.name: stage for stage in stages[:-1] if stage.name}
    ignore_file = context / ".dockerignore"
    ignore = DockerIgnore(ignore_file.read_text() if ignore_file.is_file() else "")

    plan = _Plan()
    args: dict[str, str] = {}
    workdir = TASK_ROOT                      # the Lambda base image's WORKDIR
    dirs = set(BASE_IMAGE_DIRS)              # image directories known to exist (COPY into them)
    for instruction in final.instructions:
        where = instruction.where(dockerfile)
        variables = {**BASE_IMAGE_ENV, **args, **plan.env}
        keyword = instruction.keyword
        if keyword == "ARG":
            name, _, default = instruction.arguments.partition("=")
            args[name.strip()] = expand(default.strip(), variables, where)
        elif keyword == "ENV":
            plan.env.update(_parse_env(instruction.arguments, variables, where))
        elif keyword == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, expand(instruction.arguments, variables, where)))
            dirs.add(workdir)
        elif keyword == "LABEL":
            pass
        elif keyword == "COPY":
            step = _plan_copy(instruction, variables, workdir, dirs, context, ignore, earlier,
                              artifact_dir, where)
            plan.steps.append(step)
            dirs.update(posixpath.dirname(dest) for _, dest in step.files)
        elif keyword == "RUN":
            plan.steps.append(_plan_run(instruction, variables, plan.env, workdir, where))
        elif keyword == "CMD":
            try:
                command = json.loads(instruction.arguments)
            except ValueError:
                command = None
            if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
                raise ImageTreeError(f"{where}: only the exec form CMD [\"module.handler\"] is understood")
            plan.command = tuple(command)
        else:
            raise ImageTreeError(f"{where}: the stand-in does not understand {keyword} (it knows "
                                 f"{', '.join(KNOWN_INSTRUCTIONS)}); teach tools/local/image_tree.py "
                                 "what it does to the file tree, or leave it out")
    if not plan.command:
        raise ImageTreeError(f"{_shown(dockerfile)}: the final stage has no CMD (the handler)")
    return plan


def _parse_env(arguments: str, variables: Mapping[str, str], where: str) -> dict[str, str]:
    words = shlex.split(arguments, posix=True)
    if words and "=" not in words[0]:
        # the legacy form: ENV NAME value with spaces
        return {words[0]: expand(" ".join(words[1:]), variables, where)}
    result = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not name:
            raise ImageTreeError(f"{where}: expected NAME=value, got {word!r}")
        result[name] = expand(value, variables, where)   # Docker expands with the values from before
    return result


def _plan_copy(instruction: Instruction, variables: Mapping[str, str], workdir: str, dirs: set[str],
               context: Path, ignore: DockerIgnore, earlier: Mapping[str, Stage], artifact_dir: Path,
               where: str) -> _Copy:
    arguments = instruction.arguments.strip()
    words = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    flags = [w for w in words if w.startswith("--")]
    paths = [expand(w, variables, where) for w in words if not w.startswith("--")]
    source_stage = None
    for flag in flags:
        if flag.startswith("--from="):
            source_stage = flag.split("=", 1)[1]
        else:
            raise ImageTreeError(f"{where}: COPY {flag} is not supported by the stand-in")
    if len(paths) < 2:
        raise ImageTreeError(f"{where}: COPY needs a source and a destination")
    *sources, dest = paths
    into_dir = dest.endswith("/") or len(sources) > 1
    dest = posixpath.normpath(posixpath.join(workdir, dest))
    into_dir = into_dir or dest in dirs
    files: list[tuple[Path, str]] = []
    for source in sources:
        if any(c in source for c in "*?["):
            raise ImageTreeError(f"{where}: wildcards in COPY sources are not supported by the stand-in")
        if source_stage is not None:
            found = _stage_files(source_stage, source, earlier, artifact_dir, where)
        else:
            found = _context_files(context, source, ignore, where)
        for host, relative in found:
            if relative:      # a directory's contents, below dest
                files.append((host, posixpath.join(dest, relative)))
            else:             # one file, into dest or as dest
                files.append((host, posixpath.join(dest, host.name) if into_dir else dest))
    return _Copy(tuple(files))


def _context_files(context: Path, source: str, ignore: DockerIgnore, where: str) -> list[tuple[Path, str]]:
    relative = posixpath.normpath(source).lstrip("/")
    if relative.startswith(".."):
        raise ImageTreeError(f"{where}: {source} is outside the build context")
    host = context / relative
    if host.is_file():
        if ignore.excluded(relative):
            raise ImageTreeError(f"{where}: {source} is excluded by .dockerignore: `docker build` fails too")
        return [(host, "")]
    if not host.is_dir():
        raise ImageTreeError(f"{where}: {source} is not in the build context ({_shown(context)})")
    found = []
    for path in sorted(p for p in host.rglob("*") if p.is_file()):
        if not ignore.excluded(path.relative_to(context).as_posix()):
            found.append((path, path.relative_to(host).as_posix()))
    if not found:
        raise ImageTreeError(f"{where}: everything in {source} is excluded by .dockerignore")
    return found


def _stage_files(stage: str, source: str, earlier: Mapping[str, Stage], artifact_dir: Path,
                 where: str) -> list[tuple[Path, str]]:
    export = earlier.get(stage)
    if stage != EXPORT_STAGE or export is None or posixpath.normpath(source) != EXPORT_PATH:
        raise ImageTreeError(f"{where}: the stand-in maps only COPY --from={EXPORT_STAGE} {EXPORT_PATH} "
                             "(the model artifact)")
    if not any(i.keyword == "RUN" and EXPORT_COMMAND in " ".join(i.arguments.split())
               for i in export.instructions):
        raise ImageTreeError(f"{where}: the {EXPORT_STAGE} stage no longer runs `{EXPORT_COMMAND}`, "
                             "so `make artifact` no longer stands in for it")
    if not (artifact_dir / "manifest.json").is_file():
        raise ImageTreeError(f"{where}: no model artifact at {_shown(artifact_dir)}; run `make artifact` first")
    return [(p, p.relative_to(artifact_dir).as_posix()) for p in sorted(artifact_dir.rglob("*")) if p.is_file()]


def _plan_run(instruction: Instruction, variables: Mapping[str, str], env: Mapping[str, str], workdir: str,
              where: str) -> _Run:
    script = instruction.arguments
    if script.startswith("["):
        raise ImageTreeError(f"{where}: only the shell form of RUN is understood")
    if script.startswith("--"):
        raise ImageTreeError(f"{where}: RUN {script.split()[0]} is not supported by the stand-in")
    # The shell would expand these from the image's environment: the same values.
    lexer = shlex.shlex(expand(script, variables, where), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        # B105: "&&" is a shell operator, not a password.
        if token == "&&":  # nosec B105
            commands.append([])
        elif set(token) <= _SHELL_OPERATORS:
            raise ImageTreeError(f"{where}: the stand-in runs commands joined by && only, not {token!r}")
        else:
            commands[-1].append(token)
    for command in commands:
        _check_command(command, where)
    return _Run(tuple(tuple(c) for c in commands), tuple(env.items()), workdir, where)


def _pip_arguments(command: list[str]) -> list[str] | None:
    """The arguments after `install` of a pip install command, or None if it is not one."""
    if len(command) >= 2 and re.fullmatch(r"pip(3(\.12)?)?", command[0]) and command[1] == "install":
        return command[2:]
    if (len(command) >= 4 and re.fullmatch(r"python(3(\.12)?)?", command[0])
            and command[1:4] == ["-m", "pip", "install"]):
        return command[4:]
    return None


def _option_values(arguments: list[str], option: str) -> list[str]:
    values = []
    for i, word in enumerate(arguments):
        if word == option and i + 1 < len(arguments):
            values.append(arguments[i + 1])
        elif word.startswith(option + "="):
            values.append(word.split("=", 1)[1])
    return values


def _check_command(command: list[str], where: str) -> None:
    if not command:
        raise ImageTreeError(f"{where}: an empty command between &&")
    pip = _pip_arguments(command)
    if pip is not None:
        platforms = _option_values(pip, "--platform")
        wanted = {"--only-binary": [":all:"], "--implementation": ["cp"], "--python-version": ["3.12"]}
        if (any(_option_values(pip, option) != value for option, value in wanted.items())
                or not platforms or not all(p.startswith("manylinux") and p.endswith("_x86_64") for p in platforms)
                or len(_option_values(pip, "--target")) != 1):
            raise ImageTreeError(
                f"{where}: pip install must say which platform it installs for and where: "
                f"{' '.join(LAMBDA_PLATFORM_ARGS)} --target DIR. Without them pip picks wheels for the "
                "machine it runs on, which here is not Lambda, and the stand-in could not run it as written")
        return
    if re.fullmatch(r"python(3(\.12)?)?", command[0]) and command[1:3] == ["-m", "compileall"]:
        return
    if command[0] == "rm" and all(not w.startswith("-") or w in ("-f", "-r", "-rf", "-fr") for w in command[1:]):
        return
    raise ImageTreeError(f"{where}: the stand-in runs pip install, python -m compileall and rm; "
                         f"not {shlex.join(command)!r}")


# --- carrying it out ----------------------------------------------------------------------

@dataclass(frozen=True)
class ImageTree:
    """The runtime stage's files, and how the image would start the function from them."""

    root: Path                      # the image's file system, as far as the stage writes it
    base_dir: Path                  # what the Lambda base image provides: awslambdaric, boto3
    image_env: Mapping[str, str]    # the stage's ENV, as the image has it
    command: tuple[str, ...]        # CMD
    python: str                     # the Python 3.12 interpreter that runs it

    @property
    def task_root(self) -> Path:
        return self.host_path(TASK_ROOT)

    @property
    def handler(self) -> str:
        return self.command[0]

    def host_path(self, image_path: str) -> Path:
        return _host_path(self.root, image_path)

    @property
    def environment(self) -> dict[str, str]:
        """The stage's ENV for the function here: paths in /var/task point into the tree."""
        return {name: _host_value(self.root, value) for name, value in self.image_env.items()}

    def function_spec(self, logical_id: str = "StandardFunction") -> FunctionSpec:
        """One of the image's functions as the emulator runs it from this tree: the task root as its
        directory, the base directory as the only other path, under Python 3.12 alone (isolated)."""
        template = FUNCTIONS[logical_id]
        return FunctionSpec(logical_id, self.task_root, self.handler,
                            {**self.environment, **template.environment}, template.memory_mb,
                            python_path=(self.base_dir,), python=self.python, isolated=True)


def build_image_tree(*, dockerfile: Path = DOCKERFILE, context: Path = REPO_ROOT,
                     artifact_dir: Path = DEFAULT_ARTIFACT_DIR, cache_dir: Path = CACHE_DIR,
                     python: str | None = None) -> ImageTree:
    """The runtime stage's tree, from the cache when its inputs have not changed."""
    python = python or lambda_python()
    base_dir = build_base_dir(cache_dir=cache_dir, python=python)
    plan = plan_runtime_stage(dockerfile, context, artifact_dir)
    key = _tree_key(dockerfile, context, plan)
    final = cache_dir / f"tree-{key}"
    if not final.is_dir():
        logger.info("building the image tree %s from %s", final, _shown(dockerfile))
        cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".tree-{key}-", dir=cache_dir))
        try:
            _carry_out(plan, work / "root", python)
            (work / "image.json").write_text(json.dumps({"env": plan.env, "cmd": plan.command}, indent=2))
            _publish(work, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    _prune(cache_dir, "tree-", keep=final)
    image = json.loads((final / "image.json").read_text())
    return ImageTree(final / "root", base_dir, image["env"], tuple(image["cmd"]), python)


def build_base_dir(*, cache_dir: Path = CACHE_DIR, python: str | None = None,
                   lock_file: Path = LOCK_FILE) -> Path:
    """What the Lambda Python 3.12 image (and the zip runtime) provides: awslambdaric and boto3,
    at requirements.lock's pins, for Lambda's platform, compiled as the image ships them."""
    python = python or lambda_python()
    pins = _pins(lock_file)
    missing = [name for name in BASE_PACKAGES if name.lower() not in pins]
    if missing:
        raise ImageTreeError(f"{_shown(lock_file)} pins no version of {', '.join(missing)}")
    digest = hashlib.sha256()
    for part in (*BASE_PACKAGES, *LAMBDA_PLATFORM_ARGS, lock_file.read_text()):
        digest.update(part.encode() + b"\0")
    final = cache_dir / f"lambda-base-{digest.hexdigest()[:16]}"
    if final.is_dir():
        _prune(cache_dir, "lambda-base-", keep=final)
        return final
    logger.info("installing %s for Lambda into %s", " and ".join(BASE_PACKAGES), final)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".lambda-base-", dir=cache_dir))
    try:
        target = work / "python"
        requirements = [f"{name}=={pins[name.lower()]}" for name in BASE_PACKAGES]
        _run([python, "-m", "pip", "install", "--quiet", *LAMBDA_PLATFORM_ARGS, "--target", str(target),
              "-c", str(lock_file), *requirements], _build_env({}), cwd=work, what="installing the base packages")
        _run([python, "-m", "compileall", "-q", "-j", "0", str(target)], _build_env({}), cwd=work,
             what="compiling the base packages")
        _publish(target, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(cache_dir, "lambda-base-", keep=final)
    return final


def lambda_python() -> str:
    """The Python 3.12 interpreter itself (never a venv's, whose packages would leak in)."""
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which("python3.12"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True),
                  str(REPO_ROOT / ".venv-runtime" / "bin" / "python")]
    probe = ("import sys; print(sys.version_info[:2] == (3, 12)); "
             "print(getattr(sys, '_base_executable', sys.executable))")
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run([candidate, "-c", probe], capture_output=True, text=True,  # nosec B603
                                 timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        lines = out.stdout.split()
        if out.returncode == 0 and len(lines) == 2 and lines[0] == "True":
            return lines[1]
    raise ImageTreeError("Python 3.12 (what Lambda runs) was not found: run `make setup`, "
                         "or set LAMBDA_PYTHON=/path/to/python3.12")


def _carry_out(plan: _Plan, root: Path, python: str) -> None:
    root.mkdir(parents=True)
    for image_dir in BASE_IMAGE_DIRS:
        _host_path(root, image_dir).mkdir(parents=True, exist_ok=True)
    for step in plan.steps:
        if isinstance(step, _Copy):
            for host, image_path in step.files:
                target = _host_path(root, image_path)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(host, target)
            continue
        env = _build_env({name: _host_value(root, value) for name, value in step.env})
        cwd = _host_path(root, step.workdir)
        for command in step.commands:
            mapped = [_host_argument(root, word) for word in command]
            if command[0] == "rm":
                _remove(mapped[1:], step.where)
                continue
            pip = _pip_arguments(mapped)
            if pip is not None:
                mapped = [python, "-m", "pip", "install", *pip]
            else:  # python -m compileall ...
                mapped = [python, *mapped[1:]]
            _run(mapped, env, cwd=cwd, what=f"{step.where}: {shlex.join(command)}")
    outside = [p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(_host_path(root, TASK_ROOT))]
    if outside:
        shown = ", ".join("/" + p.relative_to(root).as_posix() for p in outside[:5])
        raise ImageTreeError(f"the runtime stage leaves {shown} outside {TASK_ROOT}: "
                             "the function would not see it here")


def _remove(arguments: list[str], where: str) -> None:
    flags = "".join(w[1:] for w in arguments if w.startswith("-"))
    for path in (Path(w) for w in arguments if not w.startswith("-")):
        if path.is_dir() and not path.is_symlink():
            if "r" not in flags:
                raise ImageTreeError(f"{where}: rm {path}: is a directory")
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        elif "f" not in flags:
            raise ImageTreeError(f"{where}: rm {path}: no such file")


def _run(command: list[str], env: Mapping[str, str], *, cwd: Path, what: str) -> None:
    cwd.mkdir(parents=True, exist_ok=True)
    # The Dockerfile's own commands (pip install, compileall), checked by _check_command.
    out = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, text=True)  # nosec B603
    if out.returncode != 0:
        output = "\n".join(line for line in (out.stdout + out.stderr).splitlines() if "is ignored" not in line)
        raise ImageTreeError(f"{what} failed (exit {out.returncode}):\n{output[-4000:]}")


def _build_env(image_env: Mapping[str, str]) -> dict[str, str]:
    """This machine's environment (pip's index settings) without the caller's venv, plus the image's ENV."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_TARGET", "PIP_PREFIX")}
    env.update(image_env)
    return env


def _host_path(root: Path, image_path: str) -> Path:
    normal = posixpath.normpath("/" + image_path)
    return root.joinpath(*[part for part in normal.split("/") if part])


def _host_value(root: Path, value: str) -> str:
    """An image path under the task root, as the path in the tree; anything else unchanged."""
    if value == TASK_ROOT or value.startswith(TASK_ROOT + "/"):
        return str(_host_path(root, value))
    return value


def _host_argument(root: Path, word: str) -> str:
    """Absolute image paths in a command's arguments (``/x``, ``--opt=/x``) point into the tree."""
    if word.startswith("/"):
        return str(_host_path(root, word))
    option, sep, value = word.partition("=")
    if sep and option.startswith("-") and value.startswith("/"):
        return f"{option}={_host_path(root, value)}"
    return word


def _tree_key(dockerfile: Path, context: Path, plan: _Plan) -> str:
    digest = hashlib.sha256()
    ignore_file = context / ".dockerignore"
    for part in (dockerfile.read_bytes(), ignore_file.read_bytes() if ignore_file.is_file() else b"",
                 Path(__file__).read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    for step in plan.steps:
        if isinstance(step, _Copy):
            for host, image_path in step.files:
                digest.update(image_path.encode() + b"\0" + _file_sha256(host).encode())
    return digest.hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pins(lock_file: Path) -> dict[str, str]:
    pins = {}
    for line in lock_file.read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _publish(work: Path, final: Path) -> None:
    """Atomically: a cache entry exists whole or not at all (another build may have won the race)."""
    try:
        os.replace(work, final)
    except OSError:
        if not final.is_dir():
            raise


def _prune(cache_dir: Path, prefix: str, *, keep: Path) -> None:
    """Entries for inputs that have since changed (each holds a copy of the model), and builds
    that died half-way; only those unused for a while, as another test run may be using one."""
    os.utime(keep)
    stale_before = time.time() - PRUNE_AFTER_S
    for entry in [*cache_dir.glob(f"{prefix}*"), *cache_dir.glob(f".{prefix}*")]:
        if entry != keep and entry.is_dir() and entry.stat().st_mtime < stale_before:
            shutil.rmtree(entry, ignore_errors=True)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE)
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        tree = build_image_tree(dockerfile=args.dockerfile)
    except ImageTreeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"root": str(tree.root), "task_root": str(tree.task_root), "base_dir": str(tree.base_dir),
                      "python": tree.python, "handler": tree.handler, "environment": tree.environment}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
