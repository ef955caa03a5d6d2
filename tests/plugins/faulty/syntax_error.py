"""Does not compile: a missing colon on line 4."""


def broken()
    return 1
