"""Models: the shipped catalogue, `tracer models add|list|info|path|rm` on real files, and
`tracer models pull` against a local stand-in for the Hugging Face Hub (tests/hub_server.py).

No test here talks to huggingface.co: HF_ENDPOINT points at a closed local port unless a test
passes its own hub, and every pull names the local hub with --endpoint or HF_ENDPOINT.

What huggingface_hub 2.4.0 does with an interrupted download (asserted below):
  * within one `hf_hub_download` call, http_get catches the dropped connection
    (httpx2.RemoteProtocolError), sleeps 1 s and asks again, up to 5 times without progress;
  * the retry resumes with ``Range: bytes=K-`` where K is what was written to the temporary file,
    and it writes whole ``constants.DOWNLOAD_CHUNK_SIZE`` (10 MiB) chunks only: bytes received
    after the last full chunk are dropped, so a file cut inside its first 10 MiB is asked for again
    from byte 0 (no Range header);
  * the temporary file is unique to the process and deleted when the call fails, so a second
    `tracer models pull` starts from byte 0: nothing is resumed across runs.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Display, run_tracer
from tests.hub_server import HubServer
from tracer_cli import models as m

REPO = "test-org/tiny-vlm"
MODEL = "tiny-vlm-Q4_K_M.gguf"
MMPROJ = "mmproj-tiny-vlm-F16.gguf"
CHUNK = 10 * 1024 * 1024  # huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE (checked in a test)


def gguf(size: int, seed: int) -> bytes:
    """Bytes that pass tracer's GGUF check: the magic, then noise."""
    return b"GGUF" + random.Random(seed).randbytes(size - 4)


MODEL_BYTES = gguf(300_000, 1)
MMPROJ_BYTES = gguf(120_000, 2)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_entry(directory: Path, name: str = "tiny", *, model: bytes = MODEL_BYTES,
                mmproj: bytes = MMPROJ_BYTES, checksums: bool = True, sizes: bool = True,
                model_size: int | None = None, mmproj_size: int | None = None,
                revision: str = "main") -> Path:
    """A catalogue file like those in models/, for files the local hub serves."""
    lines = [f'name = "{name}"', 'description = "a tiny test model"', f'repo = "{REPO}"',
             f'revision = "{revision}"', 'profile = "tracer1"', "context = 4096"]
    for key, file, data, size in (("model", MODEL, model, model_size),
                                  ("mmproj", MMPROJ, mmproj, mmproj_size)):
        lines += ["", f"[{key}]", f'file = "{file}"']
        if sizes or size is not None:
            lines.append(f"size = {size if size is not None else len(data)}")
        if checksums:
            lines.append(f'sha256 = "{sha(data)}"')
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub on plain HTTP, its cache and token in tmp, and no way to huggingface.co."""
    for name in list(os.environ):
        if name.startswith(("HF_", "HUGGING_FACE_")) or name in ("FORCE_COLOR", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")  # a safety net
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("COLUMNS", "400")  # rich tables: no cell is wrapped


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An extra catalogue directory ($TRACER_CATALOGUE) holding `tiny`."""
    directory = tmp_path / "catalogue"
    write_entry(directory)
    monkeypatch.setenv("TRACER_CATALOGUE", str(directory))
    return directory


@pytest.fixture
def hub() -> Iterator[HubServer]:
    with HubServer.serving({(REPO, MODEL): MODEL_BYTES, (REPO, MMPROJ): MMPROJ_BYTES}) as server:
        yield server


def tracer(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_tracer(*args, env={**os.environ, **env})


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed command (and nothing like a traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()
              and not line.startswith("Error while downloading")]  # huggingface_hub's retry warnings
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("tracer: error: "), proc.stderr
    assert proc.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def rows(table: str) -> dict[str, list[str]]:
    """The rows of a rich table, by their first cell."""
    found = {}
    for line in table.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)[1:-1]]
        if cells and cells[0]:
            found[cells[0]] = cells
    return found


def downloads(name: str = "tiny") -> Path:
    return Path(os.environ["TRACER_HOME"]) / "models" / name


# -- the shipped catalogue --------------------------------------------------------------------

SHIPPED = sorted((ROOT / "models").glob("*.toml"))


def test_catalogue_is_the_shipped_files() -> None:
    assert SHIPPED, "models/*.toml is empty"
    assert sorted(m.catalogue()) == sorted(p.stem for p in SHIPPED)
    assert m.default_model() in m.catalogue()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_catalogue_entry(path: Path) -> None:
    from tracer_cli.agent.profiles import PROFILES

    spec = m.catalogue()[path.stem]  # also: it loads, and its name is its file name
    assert spec.source == "catalogue"
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", spec.repo), spec.repo
    assert spec.revision
    for f in (spec.model, spec.mmproj):
        assert f.file.endswith(".gguf"), f.file
        assert f.path is None
        assert f.size is None or (isinstance(f.size, int) and f.size > 0)
        assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.sha256
    assert spec.model.file != spec.mmproj.file
    assert spec.profile in PROFILES.names()
    PROFILES.get(spec.profile)
    assert spec.max_pixels == 0  # the profile's geometry decides the image size
    if spec.cpu_image_tokens:  # on a CPU: under the grounding minimum, clicks placed on a crop
        from tracer_cli.agent.profiles.geometry import GROUNDING_MIN_TOKENS

        assert 256 <= spec.cpu_image_tokens < GROUNDING_MIN_TOKENS
    assert spec.context > 0
    if spec.thinking:
        assert spec.max_tokens >= 4096 and spec.context >= 2 * spec.max_tokens


def test_a_catalogue_model_on_a_cpu_plans_on_its_cpu_budget(gguf_files: tuple[Path, Path]) -> None:
    """On a CPU a catalogue Qwen3-VL plans on 512 image tokens (and zooms to place clicks); on a
    GPU, with the user's own --max-pixels, or a model given as a path, the budget is as before."""
    from tracer_cli.agent.defaults import effective

    model = "qwen3-vl-4b-instruct"
    assert m.catalogue()[model].cpu_image_tokens == 512
    cpu = effective({"model": model, "gpu_layers": "0"})
    assert cpu.max_pixels == 512 * 32 * 32 and cpu.zoom
    assert effective({"model": model, "gpu_layers": "all"}).max_pixels == 0
    assert effective({"model": model, "gpu_layers": "0", "max_pixels": 2_000_000}).max_pixels == 2_000_000
    path, mmproj = gguf_files
    assert effective({"model": str(path), "mmproj": str(mmproj), "gpu_layers": "0"}).max_pixels == 0
    assert effective({"backend": "openai", "model": model}).max_pixels == 0


@pytest.mark.parametrize(("offload", "expected"), [(False, m.CPU_DEFAULT), (True, m.GPU_DEFAULT)])
def test_the_default_model_is_chosen_by_where_llama_cpp_can_run_it(
        monkeypatch: pytest.MonkeyPatch, offload: bool, expected: str) -> None:
    """The 2B on a CPU (2.4 times faster a planning call there), the 4B where a GPU takes it."""
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: offload)
    m.default_model.cache_clear()
    try:
        assert m.default_model() == expected
        assert m.resolve("").name == expected
        assert expected in m.catalogue()
    finally:
        m.default_model.cache_clear()


def test_the_default_model_on_this_machine_is_named_by_the_cli() -> None:
    proc = tracer("models", "default")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == m.default_model()


def test_extra_catalogue_directory(catalogue: Path) -> None:
    specs = m.catalogue()
    assert m.default_model() in specs
    tiny = specs["tiny"]
    assert (tiny.repo, tiny.model.file, tiny.mmproj.file) == (REPO, MODEL, MMPROJ)
    assert tiny.model.sha256 == sha(MODEL_BYTES) and tiny.mmproj.size == len(MMPROJ_BYTES)
    assert not tiny.installed()


# -- tracer models add / list / info / path / rm ----------------------------------------------


@pytest.fixture
def gguf_files(tmp_path: Path) -> tuple[Path, Path]:
    model, mmproj = tmp_path / "own" / "My-Model.Q4.gguf", tmp_path / "own" / "my-mmproj.gguf"
    model.parent.mkdir()
    model.write_bytes(gguf(2000, 3))
    mmproj.write_bytes(gguf(1000, 4))
    return model, mmproj


def test_add_list_info_path_rm(gguf_files: tuple[Path, Path]) -> None:
    model, mmproj = gguf_files
    proc = tracer("models", "add", "mine", "--model", str(model), "--mmproj", str(mmproj),
                  "--profile", "tracer1")
    assert proc.returncode == 0, proc.stderr
    assert "registered mine" in proc.stderr

    listing = tracer("models", "list")
    assert listing.returncode == 0, listing.stderr
    row = rows(listing.stdout)["mine"]
    assert row[1:5] == ["registered", "tracer1", "0.00 GB", "yes"], row
    assert rows(listing.stdout)[f"{m.default_model()} (default)"][1] == "catalogue"

    info = tracer("models", "info", "mine")
    assert info.returncode == 0, info.stderr
    fields = rows(info.stdout)
    assert fields["source"][1] == "registered"
    assert fields["profile"][1] == "tracer1"
    assert fields["installed"][1] == "yes"
    assert fields["model"][1] == model.name and fields["mmproj"][1] == mmproj.name
    assert str(model.resolve()) in info.stdout and str(mmproj.resolve()) in info.stdout

    paths = tracer("models", "path", "mine")
    assert paths.returncode == 0, paths.stderr
    assert paths.stdout.splitlines() == [str(model.resolve()), str(mmproj.resolve())]

    removed = tracer("models", "rm", "mine", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert "mine.toml" in removed.stderr
    assert model.read_bytes()[:4] == b"GGUF" and mmproj.is_file()  # the files stay
    assert "mine" not in rows(tracer("models", "list").stdout)
    assert "unknown model 'mine'" in error_line(tracer("models", "info", "mine"))


def test_add_uses_the_registration_in_resolve(gguf_files: tuple[Path, Path]) -> None:
    model, mmproj = gguf_files
    m.add("mine", model, mmproj, "ui-tars", context=2048, max_tokens=700)
    spec = m.resolve("mine")
    assert (spec.source, spec.profile, spec.context, spec.max_tokens) == ("registered", "ui-tars", 2048, 700)
    assert m.require_installed(spec) == (model.resolve(), mmproj.resolve())


def test_add_refuses_a_file_that_is_not_gguf(gguf_files: tuple[Path, Path], tmp_path: Path) -> None:
    model, _ = gguf_files
    fake = tmp_path / "fake-mmproj.gguf"
    fake.write_bytes(b"<html>404 not found</html>")
    line = error_line(tracer("models", "add", "mine", "--model", str(model), "--mmproj", str(fake)))
    assert "is not a GGUF file" in line and fake.name in line
    assert "mine" not in rows(tracer("models", "list").stdout)


def test_add_refuses_an_unknown_profile(gguf_files: tuple[Path, Path]) -> None:
    model, mmproj = gguf_files
    line = error_line(tracer("models", "add", "mine", "--model", str(model), "--mmproj", str(mmproj),
                             "--profile", "no-such-profile"))
    assert "unknown profile 'no-such-profile'" in line and "tracer1" in line


def test_add_refuses_a_bad_name(gguf_files: tuple[Path, Path]) -> None:
    model, mmproj = gguf_files
    line = error_line(tracer("models", "add", "Bad Name!", "--model", str(model), "--mmproj", str(mmproj)))
    assert "model name 'Bad Name!' is not allowed" in line


@pytest.mark.parametrize("command", [("info",), ("path",), ("rm", "--yes"), ("pull",)])
def test_unknown_model_name(command: tuple[str, ...]) -> None:
    proc = tracer("models", command[0], "no-such-model", *command[1:])
    line = error_line(proc)
    assert "no-such-model" in line
    assert proc.stderr.count("\n") == 1  # the whole of stderr is that line
    assert "Traceback" not in proc.stdout


def test_pull_refuses_a_registered_model(gguf_files: tuple[Path, Path]) -> None:
    m.add("mine", *gguf_files, "tracer1")
    assert "registered model" in error_line(tracer("models", "pull", "mine"))


# -- tracer models pull against the local hub -------------------------------------------------


def test_hub_chunk_size_is_what_these_tests_assume() -> None:
    from huggingface_hub import constants

    assert constants.DOWNLOAD_CHUNK_SIZE == CHUNK


def test_pull_downloads_verifies_and_does_not_download_again(catalogue: Path, hub: HubServer) -> None:
    proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert proc.returncode == 0, proc.stderr
    model, mmproj = downloads() / MODEL, downloads() / MMPROJ
    assert model.read_bytes() == MODEL_BYTES and mmproj.read_bytes() == MMPROJ_BYTES
    assert proc.stdout.splitlines() == [str(model), str(mmproj)]
    assert "tiny is ready" in proc.stderr
    assert [(r.filename, r.range) for r in hub.gets()] == [(MODEL, None), (MMPROJ, None)]
    assert all(r.path.startswith(f"/{REPO}/resolve/main/") for r in hub.requests)
    assert rows(tracer("models", "list").stdout)["tiny"][1:5] == ["catalogue", "tracer1", "0.00 GB", "yes"]
    assert tracer("models", "path", "tiny").stdout.splitlines() == [str(model), str(mmproj)]

    hub.clear()
    again = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert again.returncode == 0, again.stderr
    assert hub.gets() == [], "a second pull downloaded again"
    assert {r.method for r in hub.requests} == {"HEAD"}
    assert model.read_bytes() == MODEL_BYTES

    hub.clear()
    forced = tracer("models", "pull", "tiny", "--force", "--endpoint", hub.endpoint)
    assert forced.returncode == 0, forced.stderr
    assert sorted(r.filename for r in hub.gets()) == sorted([MODEL, MMPROJ])
    assert model.read_bytes() == MODEL_BYTES and mmproj.read_bytes() == MMPROJ_BYTES

    removed = tracer("models", "rm", "tiny", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not downloads().exists()
    assert rows(tracer("models", "list").stdout)["tiny"][4] == "no"


def test_pull_through_hf_endpoint_and_a_cdn_redirect(catalogue: Path) -> None:
    """Like the real Hub serves LFS files: /resolve/ answers 302 to another host (the CDN)."""
    files = {(REPO, MODEL): MODEL_BYTES, (REPO, MMPROJ): MMPROJ_BYTES}
    with HubServer.serving(files, redirect=True) as hub:
        proc = tracer("models", "pull", "tiny", HF_ENDPOINT=hub.endpoint)
        assert proc.returncode == 0, proc.stderr
        assert [r.path for r in hub.gets()] == [f"/cdn/{REPO}/{MODEL}", f"/cdn/{REPO}/{MMPROJ}"]
    assert (downloads() / MODEL).read_bytes() == MODEL_BYTES
    assert (downloads() / MMPROJ).read_bytes() == MMPROJ_BYTES


def test_pull_of_a_pinned_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubServer) -> None:
    revision = "89abcdef" * 5
    write_entry(tmp_path / "pinned", revision=revision)
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "pinned"))
    proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert proc.returncode == 0, proc.stderr
    assert {r.path.split("/")[4] for r in hub.requests} == {revision}
    assert (downloads() / MODEL).read_bytes() == MODEL_BYTES


def test_checksum_mismatch_with_the_catalogue(catalogue: Path) -> None:
    """The hub is self-consistent (etag = sha256 of what it serves) but not what the catalogue
    recorded: tracer's own check refuses the file and deletes it."""
    other = gguf(len(MODEL_BYTES), 99)
    with HubServer.serving({(REPO, MODEL): other, (REPO, MMPROJ): MMPROJ_BYTES}) as hub:
        proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    line = error_line(proc)
    assert f"checksum mismatch for {MODEL}" in line
    assert sha(other)[:12] in line and sha(MODEL_BYTES)[:12] in line
    assert not (downloads() / MODEL).exists()
    assert not list(downloads().glob("*.gguf"))
    assert rows(tracer("models", "list").stdout)["tiny"][4] == "no"


def test_without_catalogue_checksum_the_hub_etag_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            hub: HubServer) -> None:
    write_entry(tmp_path / "loose", checksums=False, sizes=False)
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "loose"))
    info = tracer("models", "info", "tiny")
    assert rows(info.stdout)["sha256"][1] == "(from the hub)"

    ok = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert ok.returncode == 0, ok.stderr
    assert (downloads() / MODEL).read_bytes() == MODEL_BYTES
    shutil.rmtree(downloads())

    # The hub advertises (X-Linked-Etag) the sha256 of MODEL_BYTES but serves other bytes of the
    # same size: huggingface_hub itself does not notice, tracer does.
    hub.files[(REPO, MODEL)].served = gguf(len(MODEL_BYTES), 7)
    bad = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    line = error_line(bad)
    assert f"checksum mismatch for {MODEL}" in line and sha(MODEL_BYTES)[:12] in line
    assert not (downloads() / MODEL).exists()


def test_without_catalogue_checksum_a_non_sha256_etag_is_not_a_checksum(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubServer) -> None:
    """A git etag (40 hex, a non-LFS file) is not taken for a sha256."""
    write_entry(tmp_path / "loose", checksums=False)
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "loose"))
    hub.files[(REPO, MMPROJ)].etag = "0" * 40
    proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert proc.returncode == 0, proc.stderr
    assert (downloads() / MMPROJ).read_bytes() == MMPROJ_BYTES


def test_size_mismatch_is_refused(catalogue: Path, hub: HubServer) -> None:
    """The hub serves fewer bytes than the catalogue says the file has: the transfer asks for the
    rest (and gets nothing), then tracer refuses the short file and keeps no copy of it."""
    hub.files[(REPO, MMPROJ)].served = MMPROJ_BYTES[:-10]
    proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    line = error_line(proc)
    assert MMPROJ in line and ("expected" in line or "failed" in line)
    assert not (downloads() / MMPROJ).exists()


def test_file_missing_on_the_hub(catalogue: Path, hub: HubServer) -> None:
    del hub.files[(REPO, MMPROJ)]
    line = error_line(tracer("models", "pull", "tiny", "--endpoint", hub.endpoint))
    assert f"cannot find {MMPROJ} in {REPO}" in line
    assert hub.gets() == []


def test_interrupted_download_resumes_within_the_same_pull(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The first GET of the model drops after 10 MiB + 12345 bytes. tracer keeps every byte it
    received in <file>.part and asks for the rest, in the same pull: `bytes=10498105-`."""
    big = gguf(CHUNK + 1_000_000, 5)
    write_entry(tmp_path / "big", model=big)
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "big"))
    with HubServer() as hub:
        hub.add(REPO, MODEL, big, cut_after=CHUNK + 12345)
        hub.add(REPO, MMPROJ, MMPROJ_BYTES)
        proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
        assert proc.returncode == 0, proc.stderr
        assert [r.range for r in hub.gets(MODEL)] == [None, f"bytes={CHUNK + 12345}-"]
        assert [r.range for r in hub.gets(MMPROJ)] == [None]
    assert (downloads() / MODEL).read_bytes() == big
    assert (downloads() / MMPROJ).read_bytes() == MMPROJ_BYTES
    assert list(downloads().glob("*.part")) == []


def test_interrupted_small_download_resumes_from_the_byte_it_stopped_at(catalogue: Path,
                                                                        hub: HubServer) -> None:
    hub.files[(REPO, MODEL)].cut_after = 100_000
    proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert proc.returncode == 0, proc.stderr
    assert [r.range for r in hub.gets(MODEL)] == [None, "bytes=100000-"]
    assert (downloads() / MODEL).read_bytes() == MODEL_BYTES


def test_download_that_keeps_failing_is_one_error_line(catalogue: Path, hub: HubServer) -> None:
    """Every GET drops before any byte: tracer tries 5 times, then says in one line to run the
    command again (exit 2)."""
    hub.files[(REPO, MODEL)].cut_after, hub.files[(REPO, MODEL)].cuts = 0, 100
    proc = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert len(hub.gets(MODEL)) == 5
    line = error_line(proc)
    assert f"download of {MODEL} failed" in line and "run the same command again" in line
    assert not list(downloads().glob("*.gguf"))


def test_a_failed_pull_is_continued_by_the_next_one(catalogue: Path, hub: HubServer) -> None:
    """A pull that gave up leaves <file>.part; the next pull asks only for the missing bytes."""
    big = gguf(CHUNK + 1000, 6)
    write_entry(catalogue, model=big)
    # First pull: every GET drops 10 bytes after the first 10 MiB: the first GET gets that far,
    # the four retries (Range: bytes=10485770-) get nothing more, and tracer gives up.
    hub.add(REPO, MODEL, big, cut_after=CHUNK + 10, cuts=100)
    first = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert first.returncode == 2
    assert [r.range for r in hub.gets(MODEL)] == [None] + [f"bytes={CHUNK + 10}-"] * 4
    assert not (downloads() / MODEL).exists()
    assert (downloads() / (MODEL + ".part")).stat().st_size == CHUNK + 10

    hub.clear()
    hub.files[(REPO, MODEL)].cuts = 0
    second = tracer("models", "pull", "tiny", "--endpoint", hub.endpoint)
    assert second.returncode == 0, second.stderr
    assert [r.range for r in hub.gets(MODEL)] == [f"bytes={CHUNK + 10}-"]  # only the rest
    assert (downloads() / MODEL).read_bytes() == big


def test_not_enough_disk_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubServer) -> None:
    from tracer_cli import download

    # The catalogue says 2.5 GB + 0.5 GB; the hub only has to answer the HEAD requests.
    write_entry(tmp_path / "huge", model_size=2_500_000_000, mmproj_size=500_000_000, checksums=False)
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "huge"))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(download.shutil, "disk_usage",
                        lambda path: type(usage)(usage.total, usage.total - 1_000_000_000, 1_000_000_000))
    with pytest.raises(m.ModelError) as caught:
        download.pull(m.resolve("tiny"), endpoint=hub.endpoint)
    assert "not enough disk space" in str(caught.value)
    assert "need 3.00 GB" in str(caught.value) and "1.00 GB free" in str(caught.value)
    assert caught.value.exit_code == 2
    assert hub.gets() == []
    assert {r.method for r in hub.requests} == {"HEAD"}


def test_partial_files_count_towards_the_space_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      hub: HubServer) -> None:
    from tracer_cli import download

    write_entry(tmp_path / "huge", model_size=2_500_000_000, mmproj_size=500_000_000, checksums=False)
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "huge"))
    downloads().mkdir(parents=True)
    with open(downloads() / MODEL, "wb") as fh:  # sparse: 2 GB already there
        fh.truncate(2_000_000_000)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(download.shutil, "disk_usage",
                        lambda path: type(usage)(usage.total, usage.total - 1, 100_000))
    with pytest.raises(m.ModelError, match=r"need 1\.00 GB"):
        download.pull(m.resolve("tiny"), endpoint=hub.endpoint)


def test_unreachable_hub(catalogue: Path) -> None:
    proc = tracer("models", "pull", "tiny", "--endpoint", f"http://127.0.0.1:{closed_port()}")
    line = error_line(proc)
    assert "tiny-vlm" in line or MODEL in line
    assert not list(downloads().glob("*.gguf"))


def test_do_with_a_model_that_is_not_pulled(catalogue: Path, display: Display) -> None:
    """The display check comes first in `tracer do`, then the model's files."""
    proc = tracer("do", "x", "--backend", "llama", "--model", "tiny", "--yes")
    line = error_line(proc)
    assert "model tiny is not installed" in line and "`tracer models pull tiny`" in line
    assert proc.stdout == ""


def test_the_list_keeps_every_name_whole_at_80_columns() -> None:
    proc = tracer("models", "list", COLUMNS="80")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines if line[:1] in "┏┃┡│└")  # the table
    for name in m.known():
        assert any(f"│ {name} " in line for line in lines), (name, proc.stdout)


def test_rm_also_deletes_the_projectors_copy_for_the_cpu(catalogue: Path, tmp_path: Path) -> None:
    from tests.tinyvlm import make_tiny_vlm
    from tracer_cli.agent.backends import projector

    model, mmproj = make_tiny_vlm(tmp_path / "pair", arch="qwen3vl")
    downloads().mkdir(parents=True)
    shutil.copyfile(model, downloads() / MODEL)
    shutil.copyfile(mmproj, downloads() / MMPROJ)
    copy = projector.cpu_copy(downloads() / MMPROJ)
    other = projector.cpu_copy(mmproj)  # another projector's copy stays

    removed = tracer("models", "rm", "tiny", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not downloads().exists() and not copy.exists() and other.is_file()
    assert f"removed {copy}" in removed.stderr
