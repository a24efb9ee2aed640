"""The shape every inference backend has: import its libraries, open verified files, run a graph.

A backend only imports, opens and runs. Fetching and verifying the files, the order of
the steps, their overlap and the init trace are the loader's (``inference_runtime.loading``):
it hands a backend local paths that matched the manifest's sha256 just before.

A backend knows nothing of tasks either: it tokenizes (single texts, or text pairs for a
cross-encoder), feeds the graph the inputs it asks for, and returns the output the
manifest names, one row per input. What the rows mean (an embedding, label logits, a
relevance logit) is ``inference_runtime.tasks``' business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    from ..artifact import FileEntry, Manifest
    from ..lifecycle.timing import RequestTimings

#: The verified local copies a backend opens: the manifest's path of each file -> its local path.
VerifiedPaths = Mapping[str, "Path"]


class DeviceChoice(NamedTuple):
    """Where the session runs ("cpu" or "cuda"), why (for the trace), and the provider's options."""

    name: str
    reason: str
    options: Mapping[str, str] = {}


class InferenceBackend(ABC):
    """A loaded model: tokenizer and graph."""

    #: short backend name for traces and responses
    name: str = "abstract"

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    # --- loading, in the loader's order: files, import, session, tokenizer ---------------
    @classmethod
    @abstractmethod
    def files(cls, manifest: Manifest) -> list[FileEntry]:
        """The manifest entries this backend opens (raises ManifestError for an artifact it cannot run)."""

    @classmethod
    def raw_data_files(cls, manifest: Manifest) -> frozenset[str]:
        """Paths of the files the backend reads as raw tensor bytes and never parses.

        The loader may hash these while the session is created from them when they cannot
        change meanwhile (the image's); every other file is verified before it is opened.
        """
        return frozenset()

    @classmethod
    @abstractmethod
    def import_libraries(cls) -> None:
        """Import the inference libraries (slow, and holds the GIL: the loader fetches beside it)."""

    @classmethod
    def select_device(cls, execution_provider: str,
                      provider_options: Mapping[str, str] | None = None) -> DeviceChoice:
        """Where to run, for ORT_EXECUTION_PROVIDER (auto, cuda, cpu); after ``import_libraries``.

        ``provider_options``: the accelerator's options over the backend's defaults.
        """
        return DeviceChoice("cpu", f"the {cls.name} backend runs on the CPU only")

    @classmethod
    def init_device(cls, device: DeviceChoice) -> dict[str, Any]:
        """Initialise the device (CUDA init); what it took, for the trace. BackendError if it cannot."""
        return {}

    @classmethod
    @abstractmethod
    def open_session(cls, manifest: Manifest, paths: VerifiedPaths, *, intra_op_threads: int = 0,
                     device: DeviceChoice | None = None, prepacking: bool = True) -> Any:
        """The graph's session on ``device``, opened from verified paths (``import_libraries`` first)."""

    @classmethod
    @abstractmethod
    def describe_session(cls, session: Any, device: DeviceChoice) -> dict[str, Any]:
        """What runs the session, for the trace: its execution providers, the device's memory in use."""

    @classmethod
    @abstractmethod
    def open_tokenizer(cls, manifest: Manifest, paths: VerifiedPaths) -> Any:
        """The tokenizer, opened from verified paths and configured as the manifest says."""

    @classmethod
    @abstractmethod
    def from_parts(cls, manifest: Manifest, session: Any, tokenizer: Any) -> InferenceBackend:
        """The backend over an opened session and tokenizer."""

    @classmethod
    def open(cls, manifest: Manifest, paths: VerifiedPaths, *, intra_op_threads: int = 0) -> InferenceBackend:
        """Import, open the session and the tokenizer, in one call (build-time checks; no trace)."""
        cls.import_libraries()
        session = cls.open_session(manifest, paths, intra_op_threads=intra_op_threads)
        return cls.from_parts(manifest, session, cls.open_tokenizer(manifest, paths))

    # --- running ---------------------------------------------------------------------------
    @abstractmethod
    def run(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
            timings: RequestTimings | None = None) -> Any:
        """The graph's output for a batch, a float32 array with one row per text.

        With ``pairs``, row ``i`` is the encoding of the pair ``(texts[i], pairs[i])``
        (a cross-encoder's query and document). Texts are truncated at the model's
        maximum sequence length. ``timings``: tokenising and running are added to it.
        """

    @abstractmethod
    def count_tokens(self, texts: str | Sequence[str], pairs: Sequence[str] | None = None) -> int:
        """How many tokens the model reads for ``texts`` (after truncation, special tokens included)."""

    @abstractmethod
    def token_counts(self, texts: Sequence[str], *, truncate: bool = True) -> list[int]:
        """Tokens per text (special tokens included); ``truncate=False``: before truncation."""

    @abstractmethod
    def tokenize(self, texts: Sequence[str], *, add_special_tokens: bool = True) -> list[list[dict[str, Any]]]:
        """Per text, its tokens as TEI's /tokenize gives them: ``{"id", "text", "special", "start", "stop"}``
        (``start``/``stop``: character offsets in the text; None for a special token). Not truncated."""

    @abstractmethod
    def decode(self, ids: Sequence[Sequence[int]], *, skip_special_tokens: bool = True) -> list[str]:
        """The text of each row of token ids (TaskInputError for an id outside the vocabulary)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The output rows as lists (for an embedding model: one embedding per text)."""
        return self.run(texts).tolist()
