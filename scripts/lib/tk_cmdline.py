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
