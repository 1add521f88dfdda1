#!/usr/bin/env python3
"""Builds crates/api/tests/data/phone_oracle.tsv: phone numbers with libphonenumber's
verdicts, for the oracle test (crates/api/tests/api/phone_oracle.rs).

The oracle is Google's libphonenumber through its Python port `phonenumbers`, which
ships the same metadata as the Java/C++ library. Regenerate the table when either side's
metadata changes (the test prints every disagreement):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install phonenumbers
    /tmp/venv/bin/python scripts/oracle/gen_phone_table.py [OUT]   # OUT: another path

Cases, for every region and every number type that has an example number:
  example  the example number, international form (+CC …), with its own region as hint
  next     the same with its last digit changed (a neighbour: valid or not, as it falls)
  short    the international form cut short by one digit
  natl     the example in national form, with its region as hint
  natl2    the national form cut short by two digits
plus, per region, its mobile (else fixed-line) example in international form with a
wrong region hint (a `+` number ignores the hint), the numbers quoted in issue #13, and a
few typed the way people type (other scripts' digits, 00/011 prefixes, tel:, letters).

Columns: case, region, input, valid (1/0), e164, type (SPEC §7 names; empty if invalid).
The output is deterministic: same phonenumbers version, same file.
"""

import os
import sys

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

# SPEC §7 names for libphonenumber's types.
TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
EXAMPLE_TYPES = [t for t in TYPE_NAMES if t != PhoneNumberType.UNKNOWN]

# Issue #13's people who could not sign up, as they typed their numbers.
ISSUE_CASES = [
    ("BR", "+55 11 96123-4567"),
    ("BR", "(11) 96123-4567"),
    ("CN", "+86 131 2345 6789"),
    ("DE", "+49 151 23456789"),
    ("BD", "+880 1712-345678"),
    ("US", "+55 11 96123-4567"),
]

# Ways people type numbers that the examples don't show: other scripts' digits (the
# SPA's input accepts any text), international dialling prefixes, a tel: URI, letters.
TYPED_CASES = [
    ("US", "＋４４ ７４００ １２３４５６"),
    ("GB", "٠٧٤٠٠ ١٢٣٤٥٦"),
    ("IR", "۰۹۱۲ ۳۴۵ ۶۷۸۹"),
    ("IN", "०९८७६५ ४३२१०"),
    ("DE", "00 44 7400 123456"),
    ("US", "011 44 7400 123456"),
    ("BR", "0055 11 96123-4567"),
    ("US", "tel:+44-7400-123456"),
    ("US", "+1 800 FLOWERS"),
    ("US", "1-415-555-2671"),
    ("FR", "+33 (0)6 12 34 56 78"),
    ("DE", "0049 (0)151 23456789"),
]

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "crates", "api", "tests", "data", "phone_oracle.tsv",
)


def verdict(raw, region):
    """libphonenumber's answer: (valid, e164, type name), as the API should give it."""
    try:
        n = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return (False, "", "")
    if not phonenumbers.is_valid_number(n):
        return (False, "", "")
    e164 = phonenumbers.format_number(n, PhoneNumberFormat.E164)
    return (True, e164, TYPE_NAMES[phonenumbers.number_type(n)])


def change_last_digit(s):
    i = max(i for i, c in enumerate(s) if c.isdigit())
    return s[:i] + str((int(s[i]) + 1) % 10) + s[i + 1:]


def drop_digits(s, k):
    for _ in range(k):
        i = max(i for i, c in enumerate(s) if c.isdigit())
        s = s[:i].rstrip(" -")
    return s


def main():
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    cases = []  # (case, region, input)
    for region in regions:
        seen = set()
        for t in EXAMPLE_TYPES:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            intl = phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL)
            if intl in seen:
                continue  # FIXED_LINE_OR_MOBILE repeats the fixed-line example
            seen.add(intl)
            natl = phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL)
            cases += [
                ("example", region, intl),
                ("next", region, change_last_digit(intl)),
                ("short", region, drop_digits(intl, 1)),
                ("natl", region, natl),
                ("natl2", region, drop_digits(natl, 2)),
            ]
    for i, region in enumerate(regions):
        n = phonenumbers.example_number_for_type(
            region, PhoneNumberType.MOBILE
        ) or phonenumbers.example_number_for_type(region, PhoneNumberType.FIXED_LINE)
        if n is None:
            continue
        wrong = regions[(i + 7) % len(regions)]
        cases.append(
            ("wronghint", wrong, phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL))
        )
    cases += [("issue", region, raw) for region, raw in ISSUE_CASES]
    cases += [("typed", region, raw) for region, raw in TYPED_CASES]

    rows = []
    for case, region, raw in cases:
        assert "\t" not in raw and "\n" not in raw
        valid, e164, kind = verdict(raw, region)
        rows.append(f"{case}\t{region}\t{raw}\t{int(valid)}\t{e164}\t{kind}")

    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(
            f"# libphonenumber's verdicts: phonenumbers {phonenumbers.__version__} "
            f"(libphonenumber metadata {phonenumbers.__version__}), "
            f"{len(regions)} regions, {len(rows)} cases.\n"
        )
        f.write("# Generated by scripts/oracle/gen_phone_table.py; do not edit by hand.\n")
        f.write("case\tregion\tinput\tvalid\te164\ttype\n")
        f.write("\n".join(rows) + "\n")
    print(f"wrote {len(rows)} cases over {len(regions)} regions to {os.path.normpath(out)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
