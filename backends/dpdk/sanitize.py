"""Sanitized builds: AddressSanitizer and UndefinedBehaviorSanitizer over the whole binary.

`chainc build --sanitize` compiles the generated packet path, the native
control functions and the NF bodies with these flags and links
runtime/chainc_sanitize.c, which holds the sanitizers' default options
(reports are fatal, exit code 70). docs/sanitizers.md says why each flag is
there.
"""

from __future__ import annotations

import os
import re

SOURCE = "chainc_sanitize.c"
# -O0: a sanitized build compiles in half the time of -O3, and ASan
# checks every access at any optimisation level (more of them at -O0).
CFLAGS = ("-O0", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
          "-fno-omit-frame-pointer")
LDFLAGS = ("-fsanitize=address,undefined",)
EXIT_CODE = 70  # EX_SOFTWARE, set in chainc_sanitize.c

_REPORT = re.compile(r"(ERROR: (Address|Leak)Sanitizer: .*?(?= on address|$)|\S+: runtime error: .*)", re.M)
_FRAME = re.compile(r"#\d+ 0x[0-9a-f]+ in (\S+) (\S+)")


def first_report(stderr: str) -> str | None:
    """The first sanitizer report in a run's stderr, in one line, or None.

    `ERROR: AddressSanitizer: use-after-poison in __pyx_f_..._process (chain.c:812)`
    for ASan (its first stack frame), the whole message line for UBSan.
    """
    m = _REPORT.search(stderr)
    if m is None:
        return None
    text = m.group(1).strip()
    if text.startswith("ERROR:"):
        for frame in _FRAME.finditer(stderr, m.end()):  # the first frame not in the sanitizer
            if "sanitizer" not in frame.group(2):
                return f"{text} in {frame.group(1)} ({os.path.basename(frame.group(2))})"
        return text
    where, _, what = text.partition(": runtime error: ")
    return f"{os.path.basename(where)}: runtime error: {what}"
