"""Sanitized builds: AddressSanitizer and UndefinedBehaviorSanitizer over the whole binary.

`chainc build --sanitize` compiles the generated pipeline, the control plane
and the NF bodies with these flags and links runtime/chainc_sanitize.c, which
holds the sanitizers' default options (reports are fatal, exit code 70).
docs/sanitizers.md says why each flag is there.
"""

from __future__ import annotations

import re

SOURCE = "chainc_sanitize.c"
# -O0: a sanitized build compiles in half the time of -O3, and ASan
# checks every access at any optimisation level (more of them at -O0).
CFLAGS = ("-O0", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
          "-fno-omit-frame-pointer")
LDFLAGS = ("-fsanitize=address,undefined",)
EXIT_CODE = 70  # EX_SOFTWARE, set in chainc_sanitize.c

_REPORT = re.compile(r"^.*(ERROR: (Address|Leak)Sanitizer|runtime error: |"
                     r"SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer).*$", re.M)


def first_report(stderr: str) -> str | None:
    """The first sanitizer report line in a run's stderr, or None."""
    m = _REPORT.search(stderr)
    return m.group(0).strip() if m else None
