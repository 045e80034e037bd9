"""Command lines for test_kernel (test_kernel/README.md, "Command line").

test_kernel checks that its command line arrived as configured through a
``tk.sum=`` word: the CRC-32 (zlib/IEEE) of all other ``tk.*`` words in
order, joined by single spaces. Words the loader adds (``kho=on``) are not
covered, anything lost, truncated or altered is.
"""
from __future__ import annotations

import zlib


def tk_options(plan: str, extra: str = "", **keys) -> str:
    """tk_options("np,cp,c", format="kho-v1", blocks=64) ->
    "tk.plan=np,cp,c tk.format=kho-v1 tk.blocks=64 tk.sum=0x........"
    Keyword names use '_' for '-' (max_order -> tk.max-order). `extra` is
    appended verbatim after tk.sum (words the kernel ignores)."""
    words = [f"tk.plan={plan}"]
    for k, v in keys.items():
        words.append(f"tk.{k.replace('_', '-')}={v}")
    text = " ".join(words)
    out = f"{text} tk.sum={zlib.crc32(text.encode()):#010x}"
    return f"{out} {extra}".strip()


def tk_with(options: str, **keys) -> str:
    """Adds tk.* words to a command line made by tk_options() and
    recomputes tk.sum (other words are kept after it)."""
    words = options.split()
    tk = [w for w in words if w.startswith("tk.") and not w.startswith("tk.sum=")]
    rest = [w for w in words if not w.startswith("tk.")]
    tk += [f"tk.{k.replace('_', '-')}={v}" for k, v in keys.items()]
    text = " ".join(tk)
    return " ".join([text, f"tk.sum={zlib.crc32(text.encode()):#010x}"] + rest)


def make_initrd(path, size: int, seed: int) -> str:
    """Writes `size` pseudo-random bytes to `path` (an initrd test_kernel
    checks byte for byte) and returns the tk.initrd value "SIZE:0xCRC"."""
    import random
    data = random.Random(seed).randbytes(size)
    with open(path, "wb") as f:
        f.write(data)
    return f"{size}:{zlib.crc32(data):#010x}"


def initrd_hook(size: int, seed: int):
    """A prepare hook: gives every entry of the scenario a fresh initrd and
    the tk.initrd word that describes it."""
    def hook(ctx):
        path = ctx.workdir / f"initrd-{seed}.bin"
        value = make_initrd(path, size, seed)
        for e in ctx.scenario.entries:
            e.initrd.append(str(path))
            e.options = tk_with(e.options, initrd=value)
    return hook
