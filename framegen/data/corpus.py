"""A real-footage corpus from package registries: fetch Debian packages, unpack them, pick their videos and photos,
check each file's licence in the package's copyright file, and write a manifest.

Nothing is installed: ``apt-get download`` fetches a ``.deb`` and ``dpkg-deb -x`` unpacks it into a folder. A
package's ``copyright`` file in machine-readable form (DEP-5) names a licence per ``Files:`` pattern; the last
matching stanza wins, as the format says. Older free-form copyright files cannot be matched, so their items carry
the licence by hand (``license:``) and the script checks that the copyright file names it.

The manifest (one row per file: package, version, licence, sha256, frames, size, split) is what the project
commits; the media stay under ``data/``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av

from framegen.atomic import atomic_path, write_text_atomically
from framegen.errors import FramegenError
from framegen.media import MediaError, read_image

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".ogv")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class CorpusError(FramegenError, RuntimeError):
    """A package could not be fetched or unpacked, or a licence could not be confirmed."""


@dataclass(frozen=True)
class CorpusItem:
    """Files of one package that the corpus takes.

    package: the Debian package name. include: glob patterns relative to the unpacked root (``**`` crosses folders).
    kind: 'video' or 'photo'. split: 'train' or 'val' (validation clips: selection between runs only).
    license: the licence when the copyright file is not machine-readable; ``evidence`` is a phrase of that file
        that states it (checked, whitespace and case aside).
    largest_only: for photos, keep only the largest file of each folder (wallpapers ship one picture at many sizes).
    """

    package: str
    include: tuple[str, ...]
    kind: str
    split: str = "train"
    exclude: tuple[str, ...] = ()
    license: str | None = None
    evidence: str | None = None
    largest_only: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("video", "photo"):
            raise ValueError(f"kind must be 'video' or 'photo', got {self.kind!r}")
        if self.split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {self.split!r}")


@dataclass
class ManifestRow:
    name: str
    kind: str
    split: str
    package: str
    version: str
    source: str
    license: str
    copyright: str
    sha256: str
    bytes: int
    width: int
    height: int
    frames: int
    fps: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- licences
def parse_dep5(text: str) -> list[dict[str, str]]:
    """The stanzas of a machine-readable copyright file, as {field: value} (continuation lines joined)."""
    stanzas, current, key = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
            continue
        if line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
            continue
        m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
        if m:
            key = m.group(1).lower()
            current[key] = m.group(2).strip()
    if current:
        stanzas.append(current)
    return stanzas


def _dep5_match(pattern: str, path: str) -> bool:
    # DEP-5: '*' matches any characters including '/', '?' one character; patterns are relative to the source root
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, path) is not None


def _upstream_candidates(installed: str) -> list[str]:
    """Paths an installed file may have in the upstream tree: its installed path and every suffix of it."""
    parts = installed.strip("/").split("/")
    return ["/".join(parts[i:]) for i in range(len(parts))]


def resolve_license(copyright_text: str, installed_path: str, declared: str | None,
                    evidence: str | None = None) -> tuple[str, str]:
    """The licence of one installed file: from the DEP-5 stanzas (the most specific match over the path's
    suffixes), else ``declared`` after checking that the copyright file holds ``evidence``. Raises CorpusError
    when unclear."""
    if declared is None:
        best = None
        for cand in _upstream_candidates(installed_path):
            hit = dep5_license(copyright_text, cand)
            if hit is not None and (best is None or hit[2] > best[2]):
                best = hit
        if best is None:
            raise CorpusError(f"no Files: stanza of the copyright file covers {installed_path} (give license: by hand)")
        return best[0], best[1]
    if not evidence or _squash(evidence) not in _squash(copyright_text):
        raise CorpusError(f"the copyright file does not state the licence {declared!r} given for {installed_path} "
                          f"(evidence {evidence!r} not found)")
    return declared, ""


def dep5_license(text: str, path: str) -> tuple[str, str, int] | None:
    """(licence, copyright, specificity) of ``path`` (inside the upstream tree) from a machine-readable copyright
    file: the matching ``Files:`` pattern with the longest literal part wins (``*`` has 0), the later stanza on ties
    (DEP-5's "last match wins"). None when the file is not machine-readable or nothing matches."""
    stanzas = parse_dep5(text)
    if not stanzas or "format" not in stanzas[0]:
        return None
    best = None
    for st in stanzas:
        if "files" not in st or "license" not in st:
            continue
        for p in st["files"].split():
            if _dep5_match(p, path):
                spec = len(p.replace("*", "").replace("?", ""))
                if best is None or spec >= best[2]:
                    best = (st["license"].splitlines()[0].strip(), st.get("copyright", "").splitlines()[0].strip(), spec)
    return best


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


# ----------------------------------------------------------------------------------------------- packages
def fetch_package(name: str, dest: Path) -> Path:
    """``apt-get download NAME`` into ``dest`` (reused when already there). Returns the .deb."""
    dest.mkdir(parents=True, exist_ok=True)
    have = sorted(dest.glob(f"{name}_*.deb"))
    if have:
        return have[-1]
    if shutil.which("apt-get") is None:
        raise CorpusError(f"apt-get not found: fetch {name}'s .deb by hand into {dest} (a Debian-based system fetches it)")
    proc = subprocess.run(["apt-get", "download", name], cwd=dest, capture_output=True, text=True)
    have = sorted(dest.glob(f"{name}_*.deb"))
    if proc.returncode != 0 or not have:
        raise CorpusError(f"apt-get download {name} failed: {proc.stderr.strip()[-300:]} (run apt-get update first?)")
    return have[-1]


def unpack(deb: Path, dest: Path) -> Path:
    """``dpkg-deb -x`` into ``dest`` (reused when its marker is there). Returns ``dest``."""
    marker = dest / ".unpacked"
    if marker.is_file():
        return dest
    if shutil.which("dpkg-deb") is None:
        raise CorpusError("dpkg-deb not found: it unpacks .deb files (package dpkg)")
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CorpusError(f"dpkg-deb -x {deb} failed: {proc.stderr.strip()[-300:]}")
    marker.write_text(deb.name)
    return dest


def deb_version(deb: Path) -> str:
    proc = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CorpusError(f"cannot read the version of {deb}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def copyright_text(root: Path, package: str) -> str:
    path = root / "usr" / "share" / "doc" / package / "copyright"
    if not path.is_file():
        raise CorpusError(f"{package} has no copyright file at {path}")
    return path.read_text(errors="replace")


# ----------------------------------------------------------------------------------------------- media
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def media_info(path: Path, kind: str) -> tuple[int, int, int, float | None]:
    """(width, height, frames, fps) of a video (every frame decoded, so the count is exact) or a photo."""
    if kind == "photo":
        try:
            img = read_image(path)
        except MediaError:
            raise CorpusError(f"cannot read photo {path}") from None
        return img.shape[1], img.shape[0], 1, None
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            frames = sum(1 for _ in c.decode(s))
            rate = float(s.average_rate) if s.average_rate else None
            return s.codec_context.width, s.codec_context.height, frames, rate
    except (av.FFmpegError, IndexError) as err:
        raise CorpusError(f"cannot decode video {path}: {err}") from None


def select_files(root: Path, item: CorpusItem) -> list[Path]:
    """The files of an unpacked package that ``item`` takes, sorted."""
    suffixes = VIDEO_SUFFIXES if item.kind == "video" else PHOTO_SUFFIXES
    files = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in suffixes:
            continue
        rel = p.relative_to(root).as_posix()
        if any(fnmatch.fnmatch(rel, pat) for pat in item.include) and not any(fnmatch.fnmatch(rel, pat) for pat in item.exclude):
            files.append(p)
    if item.largest_only:
        by_dir: dict[Path, Path] = {}
        for p in files:
            key = p.parent.parent if p.parent.name.startswith("images") else p.parent
            if key not in by_dir or _pixels(p) > _pixels(by_dir[key]):
                by_dir[key] = p
        files = sorted(by_dir.values())
    return files


def _pixels(path: Path) -> int:
    """Pixel count from a WxH file name (wallpaper packages name sizes so), else the image's own size."""
    m = re.search(r"(\d+)x(\d+)", path.stem)
    if m:
        return int(m.group(1)) * int(m.group(2))
    try:
        img = read_image(path, reduce=8)
    except MediaError:
        return 0
    return img.shape[0] * img.shape[1] * 64


def output_name(package: str, path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(path.parts[-4:]))
    return f"{package}__{stem}"


# ----------------------------------------------------------------------------------------------- the corpus
def prepare(items: Sequence[CorpusItem], out_dir: str | Path, *, download_dir: str | Path | None = None,
            manifest: str | Path | None = None) -> list[ManifestRow]:
    """Fetch, unpack, check and copy every item's files into ``out_dir``/{videos/train, videos/val, photos}/.

    Writes ``out_dir/manifest.json`` (and ``manifest`` too, e.g. the committed copy). Files already in place with
    the same sha256 are kept. Returns the rows.
    """
    out_dir = Path(out_dir)
    dl = Path(download_dir) if download_dir else out_dir / "_debs"
    rows: list[ManifestRow] = []
    names: set[str] = set()
    for item in items:
        deb = fetch_package(item.package, dl)
        root = unpack(deb, dl / "unpacked" / item.package)
        version = deb_version(deb)
        text = copyright_text(root, item.package)
        files = select_files(root, item)
        if not files:
            raise CorpusError(f"{item.package}: no {item.kind} matches {list(item.include)}")
        for src in files:
            rel = src.relative_to(root).as_posix()
            lic, holder = resolve_license(text, rel, item.license, item.evidence)
            name = output_name(item.package, src)
            if name in names:
                raise CorpusError(f"two corpus files would be named {name}")
            names.add(name)
            sub = Path("videos") / item.split if item.kind == "video" else Path("photos")
            dst = out_dir / sub / name
            digest = sha256(src)
            if not (dst.is_file() and sha256(dst) == digest):
                dst.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(dst) as tmp:
                    shutil.copyfile(src, tmp)
            w, h, n, fps = media_info(dst, item.kind)
            rows.append(ManifestRow(name=f"{sub.as_posix()}/{name}", kind=item.kind, split=item.split,
                                    package=item.package, version=version, source="/" + rel, license=lic,
                                    copyright=holder, sha256=digest, bytes=dst.stat().st_size, width=w, height=h,
                                    frames=n, fps=round(fps, 3) if fps else None, note=item.note))
            log.info("%s: %s (%s, %dx%d, %d frames)", item.package, rel, lic, w, h, n)
    write_manifest(rows, out_dir / "manifest.json")
    if manifest:
        write_manifest(rows, manifest)
    return rows


def write_manifest(rows: Iterable[ManifestRow], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [{k: v for k, v in asdict(r).items() if k != "extra"} for r in rows]
    return write_text_atomically(path, json.dumps(data, indent=1) + "\n")


def items_from_config(entries: Iterable[dict]) -> list[CorpusItem]:
    """CorpusItems from config mappings (lists become tuples)."""
    return [CorpusItem(**{k: tuple(v) if isinstance(v, list | tuple) else v for k, v in dict(e).items()})
            for e in entries]
