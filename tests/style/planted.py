"""The command line the style checks share: ROOT [--plant FILE:TEXT ...], where each --plant adds a line to FILE
as it is read, so that a companion test can show the check fails on a planted violation."""
import sys


def arguments(usage, line_of):
    """(root, {file: [planted lines]}), line_of(TEXT) giving each planted line; None after printing usage when
    the arguments are not of that form."""
    rest = sys.argv[1:]
    if not rest:
        print(usage)
        return None
    root = rest.pop(0)
    planted = {}
    while rest:
        option = rest.pop(0)
        if option != "--plant" or not rest:
            print(usage)
            return None
        file, text = rest.pop(0).split(":", 1)
        planted.setdefault(file, []).append(line_of(text))
    return root, planted
