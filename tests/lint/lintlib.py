# SPDX-License-Identifier: MIT
# Shared by the Python lints: print the findings, one a line, then a summary; the exit
# status is 1 when there is any.


def report(name, errors, what):
    for e in errors:
        print(e)
    if errors:
        print(f"{name}: {len(errors)} {what}")
        return 1
    print(f"{name}: ok")
    return 0
