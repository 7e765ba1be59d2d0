#!/usr/bin/env python3
"""Fails (exit 1) when a file includes a header of a folder its folder may not use (docs/architecture.md, "Layers").

Every #include "..." of the library (src/, include/backprop/), the command (cli/) and the module (python/) is
resolved to the folder that holds the header: "backprop/F/x.hpp" (a public header) and "F/x.hpp" (an internal
header under src/) to F, a name beside the including file to its own folder. An include of another folder must be
one ALLOWED lists for the including folder; an include that resolves to no file, an internal header (src/) included by
a public header or by cli/ or python/, another folder's internal header that is not one it offers (SHARED_INTERNAL),
and a folder that has no row in ALLOWED are errors too.

Usage: layers.py ROOT [--plant FILE:HEADER]... (--plant adds an include line to FILE as it is read, without
changing the file: the test that shows the check fails on an upward include.)
"""
import fnmatch
import os
import re
import sys

import planted

# Each folder and the folders it may include, top to bottom. Folders on one level do not include each other
# (dist and device; data and nn) unless listed: io sits above data (the files record a model's scaling and
# data names), so io may include data and data may not include io.
BELOW_MODEL = ["train", "dist", "device", "io", "data", "nn", "kernels", "base"]
ALLOWED = {
    "cli": ["model"] + BELOW_MODEL,
    "python": ["model"] + BELOW_MODEL,
    "model": BELOW_MODEL,
    "train": ["dist", "device", "io", "data", "nn", "kernels", "base"],
    "dist": ["io", "data", "nn", "kernels", "base"],
    "device": ["io", "data", "nn", "kernels", "base"],
    "io": ["data", "nn", "kernels", "base"],
    "data": ["kernels", "base"],
    "nn": ["kernels", "base"],
    "kernels": ["base"],
    "base": [],
}
# The internal headers (under src/) that a folder offers to the folders above it; any other internal header is
# its folder's own (data/loaders.hpp: the loaders' private declarations), and another folder may not include it.
SHARED_INTERNAL = {
    "src/base/clones.hpp",  # clones::run, for every folder's hot loops
    "src/base/plugin.hpp",  # opening a part built as a plugin (the MPI communicator)
    "src/base/huge_pages.hpp",  # huge pages asked for a large buffer (the data files' bytes)
    "src/base/kind_names.hpp",  # a kind's name and a name's kind, from the tables made with each enum
    "src/kernels/math.hpp",  # every per-element formula
    "src/kernels/*_math.hpp",  # a layer kind's formulas, shared by its CPU file and the device
    "src/kernels/device.hpp",  # the device backend's interface
    "src/kernels/cuda/*_kernels.hpp",  # each layer kind's launches on a device, for its device part
    "src/kernels/cpu/finite.hpp",  # the one finiteness test of the CPU loops
    "src/kernels/cpu/write_ahead.hpp",  # the optimizer's loops ask for the parameters' lines ahead
    "src/nn/dense_row.hpp",  # the one-row products, for the one-row step
    "src/nn/optimizer_step.hpp",  # one optimizer step's coefficients, for the device's update
    "src/nn/layer_walk.hpp",  # the one loop over the layers, for the device's step
    "src/io/binary.hpp",  # the byte-level helpers of the file formats (the fingerprint's hash)
    "src/dist/gradient_reducer.hpp",  # the reducers and the GradientSource the CPU step implements
    "src/device/device_network.hpp",  # the network on a device, for its step and its evaluation
}
# Headers generated into the build folder (not in the sources): the folder that includes them.
GENERATED = {"backprop_onnx.pb.h": "io"}
# The public headers directly under include/backprop/ and the folder each belongs to.
TOP_HEADERS = {"model.hpp": "model", "backprop.hpp": "model", "device.hpp": "device"}
SOURCE_EXTENSIONS = (".cpp", ".hpp", ".h", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def folder_of(relative):
    """The folder of a file given relative to ROOT, or None for a file outside the layered folders."""
    parts = relative.split("/")
    if parts[0] == "src":
        return parts[1] if len(parts) > 2 else "model"  # src/model.cpp
    if parts[:2] == ["include", "backprop"]:
        return parts[2] if len(parts) > 3 else TOP_HEADERS.get(parts[2])
    if parts[0] in ("cli", "python"):
        return parts[0]
    return None


def resolve(root, relative, header):
    """The path (relative to ROOT) of the header an include names, or None."""
    candidates = []
    if header.startswith("backprop/"):
        candidates.append(os.path.join("include", header))
    candidates.append(os.path.normpath(os.path.join(os.path.dirname(relative), header)))
    candidates.append(os.path.join("src", header))
    for candidate in candidates:
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None


def check_file(root, relative, lines, errors):
    folder = folder_of(relative)
    if folder not in ALLOWED:
        errors.append(f"{relative}: the folder '{folder}' has no row in ALLOWED (tests/style/layers.py): "
                      "say which folders it may include, and put it in docs/architecture.md's Layers")
        return
    public = relative.startswith("include/")
    for number, line in enumerate(lines, 1):
        match = INCLUDE.match(line)
        if not match:
            continue
        header = match.group(1)
        where = f"{relative}:{number}: #include \"{header}\""
        found = None
        if header in GENERATED:
            target = GENERATED[header]
        else:
            found = resolve(root, relative, header)
            if found is None:
                errors.append(f"{where}: no such header in include/, src/ or beside the file")
                continue
            if (public or folder in ("cli", "python")) and not found.startswith(("include/", relative.split("/")[0])):
                errors.append(f"{where}: an internal header ({found}) included by a public header or by the command "
                              "or the module, which are built without src/ on their include path")
                continue
            target = folder_of(found)
        if target == folder:
            continue
        if target not in ALLOWED[folder]:
            errors.append(f"{where}: {folder}/ may not include {target}/ (it may include: "
                          f"{', '.join(ALLOWED[folder]) or 'nothing else'}; docs/architecture.md, \"Layers\")")
        elif found and found.startswith("src/") and not any(fnmatch.fnmatchcase(found, offered)
                                                            for offered in SHARED_INTERNAL):
            errors.append(f"{where}: {found} is internal to {target}/ (not one of the internal headers it offers "
                          "to the folders above: SHARED_INTERNAL, tests/style/layers.py)")

def main():
    parsed = planted.arguments(__doc__, lambda header: f'#include "{header}"')
    if parsed is None:
        return 2
    root, planted_lines = parsed
    errors = []
    checked = 0
    for top in ("src", os.path.join("include", "backprop"), "cli", "python"):
        for directory, folders, files in os.walk(os.path.join(root, top)):
            folders.sort()
            for name in sorted(files):
                if not name.endswith(SOURCE_EXTENSIONS):
                    continue
                relative = os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
                with open(os.path.join(root, relative), encoding="utf-8", errors="replace") as source:
                    lines = source.read().split("\n") + planted_lines.pop(relative, [])
                check_file(root, relative, lines, errors)
                checked += 1
    for file in planted_lines:
        errors.append(f"{file}: --plant names a file that is not checked")
    for error in errors:
        print(error)
    print(f"{checked} files checked, {len(errors)} include(s) against the layers")
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
