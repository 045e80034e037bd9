"""The KHO-enabled Linux kernels of the real-Linux scenarios, one place:
scripts/build-linux-kho builds each architecture's kernel once per machine
(minutes, from Debian sid's linux-source) and caches it; every later call
in the same run, and every later run, gets the cached image's path.
"""
from __future__ import annotations

from lib.bootchain import ScenarioError

_built: dict[str, str] = {}


def kho_kernel(ctx, arch: str = "x86_64") -> str:
    """The kernel image for `arch` ("x86_64": bzImage, "arm64": Image)."""
    if arch not in _built:
        try:
            proc = ctx.run(["scripts/build-linux-kho", "--arch", arch], timeout=3 * 3600)
        except ScenarioError as e:
            raise ScenarioError(f"KHO kernel build (scripts/build-linux-kho --arch {arch}) failed: {e}")
        built = [l for l in proc.stderr.splitlines() if " built " in l]
        if built:
            print(f"  {built[-1]}", flush=True)
        _built[arch] = proc.stdout.strip().splitlines()[-1]
    return _built[arch]
