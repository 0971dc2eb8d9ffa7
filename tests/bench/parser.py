"""Parse speed: microseconds per typical SMS, against a bare regex match as the floor."""

from __future__ import annotations

import re
import timeit

from service.domain.sms_parser import parse

MESSAGES = [
    "PICKUP", "pls come carry my bottles", "BAL", "AIRTIME 500",
    "hello how are you", "JOIN Ada Obi, 12 Herbert Macaulay Way Yaba",
    "LOG K7Q2 PET 2.5 ALU 0.4", "how much i get", "ẹ wá gbé e", "cancle",
]  # fmt: skip


def per_message(fn: object, rounds: int = 2000) -> float:
    best = min(
        timeit.repeat(lambda: [fn(m) for m in MESSAGES], number=rounds, repeat=5)
    )  # type: ignore[operator]
    return best / (rounds * len(MESSAGES))


def main() -> None:
    floor_re = re.compile(r"^\s*(\w+)")
    ours = per_message(parse)
    floor = per_message(floor_re.match)
    print(f"parse: {ours * 1e6:.1f} µs/message; one regex match: {floor * 1e6:.2f} µs")
    print(f"ratio parse/regex: {ours / floor:.0f}x (target: parse < 50 µs)")


if __name__ == "__main__":
    main()
