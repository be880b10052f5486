"""Print, per pass, how many tests ran, and how many browser tests ran (not skipped)."""

import sys
import xml.etree.ElementTree as ET

for path in sys.argv[1:]:
    root = ET.parse(path).getroot()  # noqa: S314 - our own pytest report
    cases = root.iter("testcase")
    total = ran = browser = skipped = failed = 0
    for case in cases:
        total += 1
        is_skipped = case.find("skipped") is not None
        is_failed = case.find("failure") is not None or case.find("error") is not None
        skipped += is_skipped
        failed += is_failed
        if not is_skipped:
            ran += 1
            props = {p.get("name") for p in case.iter("property")}
            browser += "browser" in props
    sys.stdout.write(f"{path}: {total} tests, {ran} ran, {skipped} skipped, {failed} failed; "
                     f"browser tests that ran: {browser}\n")
