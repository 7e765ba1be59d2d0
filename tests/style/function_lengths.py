#!/usr/bin/env python3
"""Fails (exit 1) when a function body in src/, cli/ or python/ is longer than the limit (130 lines).

A function is found the simple way: a line that ends with '{' and whose text before it closes a parameter
list (')' possibly followed by const, override, noexcept, -> type, or a constructor's initializer list),
outside of a control statement; its length runs to the matching '}'. Lambdas and local classes count
toward the function that holds them. Usage: function_lengths.py ROOT [LIMIT]
"""
import os
import re
import sys

SIGNATURE_END = re.compile(r"\)\s*(const)?\s*(override|final)?\s*(noexcept)?\s*(->\s*[\w:<>,\s*&]+)?\s*\{\s*(//.*)?$")
CONTROL = re.compile(r"^\s*(\}\s*)?(if|for|while|switch|else|do|catch|return|case)\b")


LITERAL = re.compile(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|//.*$')


def functions(path):
    # String and character literals and line comments removed, so that their braces do not count.
    lines = [LITERAL.sub('""', line) for line in open(path, encoding="utf-8", errors="replace").read().split("\n")]
    found = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if SIGNATURE_END.search(line) and not CONTROL.match(line) and "=" not in line.split("(")[0] \
                and "[" not in line.split("(")[0]:
            depth = 0
            for j in range(i, len(lines)):
                depth += lines[j].count("{") - lines[j].count("}")
                if depth <= 0:
                    break
            found.append((i + 1, j - i + 1, line.strip()))
            i = j + 1
            continue
        i += 1
    return found


def main():
    root = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 130
    too_long = []
    for folder in ("src", "cli", "python"):
        for directory, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if name.endswith((".cpp", ".hpp", ".cu", ".h")):
                    path = os.path.join(directory, name)
                    for line, length, text in functions(path):
                        if length > limit:
                            too_long.append(f"{os.path.relpath(path, root)}:{line}: {length} lines: {text[:80]}")
    for entry in too_long:
        print(entry)
    print(f"{len(too_long)} function(s) over {limit} lines")
    return 1 if too_long else 0


if __name__ == "__main__":
    sys.exit(main())
