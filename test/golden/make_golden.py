#!/usr/bin/env python3
"""Writes the golden files the unit tests compare against, from the format specs alone.

Standard library only (json, struct): no safetensors or hfhub code is involved, so the files are
an independent statement of the formats. Run from anywhere: python3 test/golden/make_golden.py

- *.safetensors: 8-byte little-endian header length, the JSON header (compact, as serde_json
  writes it), padded with spaces to a multiple of 8, then the data. Tensors laid out by dtype in
  the reverse of the spec's list, then by name; "__metadata__" first; entries as
  {"dtype","shape","data_offsets"}.
- config.json: json.dumps(config, sort_keys=True, indent=2), as huggingface_hub's mixin writes it.
- model_card.md: the card hfhub generates for the metadata in test_model_card.cpp, pinned; YAML
  has no byte-exact form, so this script only checks that PyYAML (when installed) reads its front
  matter as the card data Python would hold, split with huggingface_hub's front-matter regex.
- sharded/: greedy shards over 40 bytes, and the index as transformers writes it
  (sort_keys=True, indent=2, trailing newline).
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_DTYPES = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
               "I32", "U32", "F32", "F64", "I64", "U64"]
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
        "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def safetensors_bytes(tensors, metadata=None):
    """tensors: {name: (dtype, shape, bytes)}"""
    order = sorted(tensors, key=lambda n: (-SPEC_DTYPES.index(tensors[n][0]), n))
    items = []
    if metadata is not None:
        items.append(("__metadata__", dict(sorted(metadata.items()))))
    offset = 0
    data = b""
    for n in order:
        dtype, shape, raw = tensors[n]
        count = 1
        for d in shape:
            count *= d
        assert len(raw) == count * SIZE[dtype], n
        items.append((n, {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}))
        offset += len(raw)
        data += raw
    header = json.dumps(dict(items), separators=(",", ":"), ensure_ascii=False).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + data


def write(name, content):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())


def main():
    basic = {
        "weight": ("F32", [2, 2], struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)),
        "bias": ("F32", [2], struct.pack("<2f", 0.5, -0.5)),
        "ids": ("I64", [3], struct.pack("<3q", 1, -2, 3)),
        "mask": ("BOOL", [4], bytes([1, 0, 1, 1])),
        "half": ("F16", [2], struct.pack("<2e", 1.5, -2.0)),
        "empty": ("U8", [0], b""),
        "scalar": ("F64", [], struct.pack("<d", 3.25)),
    }
    write("basic.safetensors", safetensors_bytes(basic, {"format": "pt"}))

    every = {}
    for i, dt in enumerate(SPEC_DTYPES):
        every["t_" + dt.lower()] = (dt, [2], bytes((i * 16 + k) & 0xFF for k in range(2 * SIZE[dt])))
    write("all_dtypes.safetensors", safetensors_bytes(every))

    # Three 16-byte tensors and a 48-byte one under a 40-byte limit: [a, b], [big] alone, [c].
    f32 = lambda *v: struct.pack("<%df" % len(v), *v)
    sharded = [("a", ("F32", [4], f32(1, 2, 3, 4))), ("b", ("F32", [4], f32(5, 6, 7, 8))),
               ("big", ("F32", [12], f32(*range(12)))), ("c", ("F32", [4], f32(9, 10, 11, 12)))]
    shards, current, size = [], [], 0
    for name, t in sharded:
        n = len(t[2])
        if n > 40:
            shards.append([(name, t)])
            continue
        if size + n > 40 and current:
            shards.append(current)
            current, size = [], 0
        current.append((name, t))
        size += n
    if current:
        shards.append(current)
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        write("sharded/" + fname, safetensors_bytes(dict(shard), {"format": "pt"}))
        for name, _ in shard:
            weight_map[name] = fname
    index = {"metadata": {"total_size": sum(len(t[2]) for _, t in sharded)}, "weight_map": weight_map}
    write("sharded/model.safetensors.index.json", json.dumps(index, indent=2, sort_keys=True) + "\n")

    config = {
        "hidden_size": 128,
        "vocab_size": 30522,
        "learning_rate": 0.001,
        "eps": 1e-05,
        "big": 1e16,
        "ratio": 2.5,
        "whole": 100.0,
        "neg_zero": -0.0,
        "tiny": 5e-324,
        "name": "caf\u00e9 \u2603 \U0001D11E \"q\" back\\slash",
        "control": "tab\there\x01\x7f",
        "flags": [True, False, None],
        "nested": {"z": 1, "a": {"y": [], "b": {}}, "m": [1, [2, 3]]},
        "large": 18446744073709551615,
        "negative": -9223372036854775808,
    }
    write("config.json", json.dumps(config, sort_keys=True, indent=2))

    # The test model's config, as Python would write it for the same values.
    write("mixin_config.json", json.dumps({"hidden_size": 128, "vocab_size": 30522, "output_size": 4,
                                           "activation": "gelu", "dropout": 0.1}, sort_keys=True, indent=2))


def check_card():
    try:
        import yaml
    except ImportError:
        return
    import re
    with open(os.path.join(HERE, "model_card.md")) as f:
        card = f.read()
    m = re.search(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))", card)
    assert yaml.safe_load(m.group(2)) == {
        "datasets": ["kitti", "nyu"], "language": "en", "library_name": "my-org/my-lib", "license": "mit",
        "pipeline_tag": "depth-estimation", "tags": ["depth", "model_hub_mixin", "vision"], "model_size": "1.2B"}
    assert card[m.end():].startswith("\nThis model was pushed")


if __name__ == "__main__":
    main()
    check_card()
