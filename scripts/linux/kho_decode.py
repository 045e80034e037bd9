#!/usr/bin/env python3
"""Independent decoder of a KHO (kho-v2..v4, radix tree) state in a RAM dump.

Written from docs/kho-abi.md section 5 and the layout facts in Linux
7.2's include/linux/kho/abi/kexec_handover.h (4 KiB pages):

  * root FDT: one page, standard big-endian flattened device tree; root
    property "preserved-memory-map" = native (little-endian) u64 physical
    address of the radix root page; each sub-node has "preserved-data"
    (LE u64 phys) and, from kho-v3 on, "blob-size" (LE u64).
  * radix node page: 512 LE u64 child physical addresses (0 = none);
    levels 5 (root) .. 1; a level-1 entry points to a leaf page.
  * leaf page: 32768-bit little-endian bitmap; bit b under prefix p encodes
    key = p | b, where key = (1 << (52 - order)) | (phys >> (12 + order)).

Used by scripts/capture-linux-vectors; also runs standalone:
  kho_decode.py DUMP --fdt-file FDT [--base 0]   (prints JSON)
  kho_decode.py --vector loader/tests/vectors/linux-...  (self-check)
Python 3 standard library only.
"""
import json
import mmap
import os
import struct
import sys

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
ORDER0_LOG2 = 64 - PAGE_SHIFT            # 52
TABLE_LOG2 = 9                           # log2(PAGE_SIZE / 8)
BITMAP_LOG2 = PAGE_SHIFT + 3             # 15
MAX_DEPTH = -(-(ORDER0_LOG2 - BITMAP_LOG2 + 1) // TABLE_LOG2) + 1  # 6
RADIX_COMPATIBLES = ("kho-v2", "kho-v3", "kho-v4")

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9


class DecodeError(Exception):
    pass


class Ram:
    """Physical memory view over a dump file that starts at phys `base`."""

    def __init__(self, path, base=0):
        self._f = open(path, "rb")
        self.mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
        self.base = base
        self.end = base + len(self.mm)

    def read(self, phys, length):
        if phys < self.base or phys + length > self.end:
            raise DecodeError("read of 0x%x+0x%x outside the dump [0x%x, 0x%x)"
                              % (phys, length, self.base, self.end))
        off = phys - self.base
        return self.mm[off:off + length]

    def find_page(self, needle):
        """Page-aligned physical addresses whose contents start with needle."""
        hits = []
        pos = 0
        while True:
            pos = self.mm.find(needle, pos)
            if pos < 0:
                return hits
            if (pos + self.base) % PAGE_SIZE == 0:
                hits.append(pos + self.base)
            pos += 1


class SparseRam:
    """Physical memory made of (file, address) pieces, e.g. a vector's ram files."""

    def __init__(self, pieces):
        self.pieces = []
        for path, addr in pieces:
            with open(path, "rb") as f:
                self.pieces.append((addr, f.read()))

    def read(self, phys, length):
        for addr, data in self.pieces:
            if addr <= phys and phys + length <= addr + len(data):
                return data[phys - addr:phys - addr + length]
        raise DecodeError("read of 0x%x+0x%x outside the vector's ram files" % (phys, length))


def check_vector(vdir):
    """Decodes a committed vector from its ram files alone and compares it
    with its expected-blocks.json and metadata-pages.json. Returns a list of
    problems (empty = consistent)."""
    def load(name):
        with open(os.path.join(vdir, name)) as f:
            return json.load(f)
    st = load("state.json")
    ram = SparseRam([(os.path.join(vdir, fn), addr) for fn, addr in st["ram_files"]])
    state = decode_state(ram, st["fdt"])
    problems = []
    if state["compatible"] != st["compatible"]:
        problems.append("compatible %s != %s" % (state["compatible"], st["compatible"]))
    if [list(b) for b in state["blocks"]] != load("expected-blocks.json"):
        problems.append("decoded blocks differ from expected-blocks.json")
    if sorted(state["nodes"] + state["leaves"]) != load("metadata-pages.json"):
        problems.append("radix pages differ from metadata-pages.json")
    return problems


def parse_fdt(blob):
    """Parses a flattened device tree; returns {path: {prop: bytes}}."""
    if len(blob) < 40:
        raise DecodeError("FDT shorter than its header")
    (magic, totalsize, off_struct, off_strings, _off_rsv, version, _last,
     _cpu, size_strings, size_struct) = struct.unpack(">10I", blob[:40])
    if magic != FDT_MAGIC:
        raise DecodeError("bad FDT magic 0x%08x" % magic)
    if totalsize > len(blob) or version < 16:
        raise DecodeError("FDT totalsize %d / version %d not usable" % (totalsize, version))
    if off_struct + size_struct > totalsize or off_strings + size_strings > totalsize:
        raise DecodeError("FDT blocks outside totalsize")
    strings = blob[off_strings:off_strings + size_strings]
    nodes = {}
    path = []
    pos = off_struct
    end = off_struct + size_struct
    while pos + 4 <= end:
        (tok,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if tok == FDT_BEGIN_NODE:
            nul = blob.index(b"\0", pos, end)
            name = blob[pos:nul].decode("ascii", "replace")
            pos = (nul + 1 + 3) & ~3
            path.append(name)
            nodes["/" + "/".join(p for p in path if p)] = {}
        elif tok == FDT_END_NODE:
            if not path:
                raise DecodeError("unbalanced FDT_END_NODE")
            path.pop()
        elif tok == FDT_PROP:
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            if pos + length > end or nameoff >= len(strings):
                raise DecodeError("FDT property outside the struct block")
            pname = strings[nameoff:strings.index(b"\0", nameoff)].decode("ascii", "replace")
            if not path:
                raise DecodeError("FDT property outside any node")
            nodes["/" + "/".join(p for p in path if p)][pname] = bytes(blob[pos:pos + length])
            pos = (pos + length + 3) & ~3
        elif tok == FDT_NOP:
            continue
        elif tok == FDT_END:
            if path:
                raise DecodeError("FDT_END inside a node")
            return nodes
        else:
            raise DecodeError("bad FDT token 0x%x at 0x%x" % (tok, pos - 4))
    raise DecodeError("FDT struct block without FDT_END")


def le64(prop, what):
    if prop is None or len(prop) != 8:
        raise DecodeError("%s missing or not 8 bytes" % what)
    return struct.unpack("<Q", prop)[0]


def decode_key(key):
    """Returns (phys, order) of a radix key."""
    order = ORDER0_LOG2 + 1 - key.bit_length()
    if order < 0:
        raise DecodeError("radix key 0x%x has no valid order bit" % key)
    phys = (key << (PAGE_SHIFT + order)) & ((1 << 64) - 1)
    return phys, order


def walk_radix(ram, root):
    """Walks the radix tree; returns (blocks, node_pages, leaf_pages).

    blocks: sorted list of (phys, size_bytes); node/leaf pages: sorted lists.
    """
    nodes, leaves, blocks = [], [], []
    seen = set()

    def visit(page, what):
        if page % PAGE_SIZE:
            raise DecodeError("%s 0x%x is not page aligned" % (what, page))
        if page in seen:
            raise DecodeError("%s 0x%x visited twice (cycle or shared page)" % (what, page))
        seen.add(page)
        return ram.read(page, PAGE_SIZE)

    def walk(page, level, prefix):
        table = struct.unpack("<512Q", visit(page, "radix node"))
        nodes.append(page)
        shift = (level - 1) * TABLE_LOG2 + BITMAP_LOG2
        for idx, child in enumerate(table):
            if not child:
                continue
            key = prefix | (idx << shift)
            if level == 1:
                leaf(child, key)
            else:
                walk(child, level - 1, key)

    def leaf(page, prefix):
        words = struct.unpack("<512Q", visit(page, "radix leaf"))
        leaves.append(page)
        for w, word in enumerate(words):
            while word:
                low = word & -word
                bit = w * 64 + low.bit_length() - 1
                word ^= low
                phys, order = decode_key(prefix | bit)
                blocks.append((phys, PAGE_SIZE << order))

    walk(root, MAX_DEPTH - 1, 0)
    return sorted(blocks), sorted(nodes), sorted(leaves)


def decode_state(ram, fdt_phys):
    """Decodes the KHO state whose root FDT page is at fdt_phys."""
    page = ram.read(fdt_phys, PAGE_SIZE)
    (totalsize,) = struct.unpack_from(">I", page, 4)
    if totalsize > PAGE_SIZE:
        raise DecodeError("root FDT totalsize %d exceeds a page" % totalsize)
    tree = parse_fdt(page[:totalsize])
    root = tree.get("/")
    if root is None:
        raise DecodeError("root FDT has no root node")
    compat = root.get("compatible", b"").split(b"\0")[0].decode("ascii", "replace")
    if compat not in RADIX_COMPATIBLES:
        raise DecodeError("compatible %r is not a radix-tree KHO ABI" % compat)
    map_root = le64(root.get("preserved-memory-map"), "preserved-memory-map")
    if not map_root:
        raise DecodeError("preserved-memory-map is 0")
    blocks, nodes, leaves = walk_radix(ram, map_root)
    subs = []
    for path, props in sorted(tree.items()):
        if path == "/":
            continue
        data = le64(props.get("preserved-data"), path + "/preserved-data")
        size = props.get("blob-size")
        size = le64(size, path + "/blob-size") if size is not None else None
        subs.append({"name": path[1:], "phys": data, "size": size})
    return {
        "compatible": compat,
        "fdt": fdt_phys,
        "fdt_size": totalsize,
        "map_root": map_root,
        "blocks": blocks,
        "nodes": nodes,
        "leaves": leaves,
        "subs": subs,
    }


def needed_pages(state):
    """Pages a loader test needs: root FDT, radix nodes+leaves, sub-blobs."""
    pages = {state["fdt"]}
    pages.update(state["nodes"])
    pages.update(state["leaves"])
    for sub in state["subs"]:
        size = sub["size"] if sub["size"] else PAGE_SIZE
        first = sub["phys"] & ~(PAGE_SIZE - 1)
        last = (sub["phys"] + size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        pages.update(range(first, last, PAGE_SIZE))
    return sorted(pages)


def page_runs(pages):
    """Groups sorted page addresses into [start, length_bytes] runs."""
    runs = []
    for p in pages:
        if runs and runs[-1][0] + runs[-1][1] == p:
            runs[-1][1] += PAGE_SIZE
        else:
            runs.append([p, PAGE_SIZE])
    return runs


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", nargs="?")
    ap.add_argument("--vector", help="check a committed vector directory instead")
    ap.add_argument("--fdt-file", help="bytes of the root FDT (debugfs kho/out/fdt)")
    ap.add_argument("--fdt", type=lambda s: int(s, 0), help="physical address of the root FDT")
    ap.add_argument("--base", type=lambda s: int(s, 0), default=0)
    args = ap.parse_args(argv)
    if args.vector:
        try:
            problems = check_vector(args.vector)
        except (DecodeError, OSError, KeyError, ValueError) as e:
            sys.exit("kho_decode: %s: %s" % (args.vector, e))
        for p in problems:
            print("kho_decode: %s: %s" % (args.vector, p), file=sys.stderr)
        if problems:
            sys.exit(1)
        print("kho_decode: %s: consistent" % args.vector)
        return
    if not args.dump:
        ap.error("need DUMP or --vector")
    try:
        ram = Ram(args.dump, args.base)
    except (OSError, ValueError) as e:
        sys.exit("kho_decode: cannot map %s: %s" % (args.dump, e))
    if args.fdt is None:
        if not args.fdt_file:
            ap.error("need --fdt or --fdt-file")
        with open(args.fdt_file, "rb") as f:
            hits = ram.find_page(f.read())
        if len(hits) != 1:
            sys.exit("kho_decode: root FDT found %d times in the dump" % len(hits))
        args.fdt = hits[0]
    try:
        state = decode_state(ram, args.fdt)
    except DecodeError as e:
        sys.exit("kho_decode: %s" % e)
    state["pages"] = needed_pages(state)
    json.dump(state, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
