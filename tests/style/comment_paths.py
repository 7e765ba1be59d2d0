#!/usr/bin/env python3
"""Fails (exit 1) when a comment names a source or document file that does not exist (a file that moved).

Every comment (// or #) of the sources, tests, benchmarks and build files is searched for names ending in a
source or document extension (.hpp, .cpp, .h, .cu, .py, .md, .cmake, .sh); each must be a file of the tree, named
whole or by its last parts ("nn/spec.hpp" for include/backprop/nn/spec.hpp, "row_step.cpp" beside it). Names
in capitals (NAME.h, X.h: placeholders) and the system's and peers' files in EXTERNAL are not looked for.

Usage: comment_paths.py ROOT [--plant FILE:COMMENT]... (--plant adds a comment line to FILE as it is read, without
changing the file: the test that shows the check fails on a stale name.)
"""
import os
import re
import sys

import planted

EXTERNAL = {
    "math.h", "stdint.h", "omp.h", "nlohmann/json.hpp",  # system headers
    "dnnl-config.cmake",  # oneDNN's package file
    "torch_infer.py", "../shared/peers/torch_recipe.py",  # the PyTorch peers of the benchmarks (bench/run.py)
}
SKIPPED_FOLDERS = {".git", "corpus", "crashers", "__pycache__"}
CHECKED = (".cpp", ".hpp", ".h", ".cu", ".cuh", ".py", ".pyi", ".cmake", ".sh", "CMakeLists.txt")
NAME = re.compile(r"(?<![\w/.$-])((?:[\w.-]+/)*[\w-]+\.(?:hpp|cpp|h|cu|cuh|py|pyi|md|cmake|sh))\b")
PLACEHOLDER = re.compile(r"[A-Z_]+\.\w+")


def tree(root):
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS and not f.startswith("build"))
        for name in sorted(files):
            yield os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")


def comment_of(line):
    stripped = line.lstrip()
    if stripped.startswith("#include"):
        return None
    for mark in ("//", "#"):
        if mark in line:
            return line[line.index(mark):]
    return None


def main():
    parsed = planted.arguments(__doc__, lambda comment: "// " + comment)
    if parsed is None:
        return 2
    root, planted_lines = parsed
    files = list(tree(root))
    known = set(files) | {f[:-3] for f in files if f.endswith(".in")}  # a file configured from NAME.in

    def exists(name):
        return name in known or any(f.endswith("/" + name) for f in known)

    stale = []
    checked = 0
    for relative in files:
        if not relative.endswith(CHECKED) or relative.startswith("tests/data/"):
            continue
        checked += 1
        with open(os.path.join(root, relative), encoding="utf-8", errors="replace") as source:
            lines = source.read().split("\n") + planted_lines.pop(relative, [])
        for number, line in enumerate(lines, 1):
            comment = comment_of(line)
            if comment is None:
                continue
            for match in NAME.finditer(comment):
                name = match.group(1)
                if name in EXTERNAL or PLACEHOLDER.fullmatch(name.split("/")[-1]) and name.split("/")[-1] not in (
                        "DESIGN.md", "README.md"):
                    continue
                if not exists(name):
                    stale.append(f"{relative}:{number}: the comment names {name}, which is no file of the tree")
    for file in planted_lines:
        stale.append(f"{file}: --plant names a file that is not checked")
    for entry in stale:
        print(entry)
    print(f"{checked} files checked, {len(stale)} stale name(s)")
    return 1 if stale or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
