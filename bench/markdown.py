"""Benchmark: Markdown rendering on pathological inputs and on an ordinary long narrative.

    .venv/bin/python -m bench.markdown [--repeat 3]

Renders each input with `reviews.markdown` and prints, for each, the best of --repeat runs of the
two steps apart: cmark-gfm (with ybiyri's guards) and the nh3 sanitiser, in CPU time of this
process, so that other work on the machine does not count. The baseline is an ordinary narrative
of the same size (~200 kB: headings, prose, lists, tables, code), measured in the same run: in
linear time, no input of that size costs much more than it. The target is well under a second
for every input. No database is needed.
"""

import argparse
import os
import random
import time

SIZE = 200_000


def pathological_inputs(size: int = SIZE) -> dict[str, str]:
    """Inputs of about `size` characters that cost quadratic (or worse) time in some renderer or
    sanitiser: nested brackets, emphasis runs, references, deep nesting, backticks, raw HTML, tables."""
    return {
        "nested brackets": "[" * size,
        "nested image brackets": "![" * (size // 2),
        "emphasis run *a": "*a" * (size // 2),
        "underscores": "_" * size,
        "emphasis openers and closers": "*_" * (size // 4) + "_*" * (size // 4),
        "link openers": "[a](" * (size // 4),
        "link reference definitions": "".join(f"[r{n}]: /u{n}\n" for n in range(size // 14)) + "[r1]",
        "link references": "[a]: /b\n\n" + "[a]" * (size // 3),
        "deep blockquote": "> " * (size // 2),
        "many deep blockquotes": (">" * 30 + " a\n\n") * (size // 34),
        "deep list by indentation": "".join("  " * depth + "- a\n" for depth in range(440)),
        "deep list on one line": "1. " * (size // 3),
        "backticks": "`" * size,
        "backtick runs": "".join("`" * n + "a" for n in range(1, 630)),
        "angle brackets": "<" * size,
        "unclosed raw HTML then paragraphs": "<div>" * 60 + "\n\n" + "a\n\n" * ((size - 302) // 3),
        "deep raw HTML": "<div>\n" + "<div>" * (size // 5 - 2),
        "raw lists": "<ul><li>" * (size // 8),
        "tables padded with empty cells": ("|a" * 1000 + "|\n" + "|-" * 1000 + "|\n" + "x\n" * 1000 + "\n")
        * (size // 6006),
        "footnote definitions": "".join(f"[^{n}]: n\n" for n in range(size // 12)) + "[^1]" * 1000,
    }


SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ze", "bo", "fi"]
DOMAIN = ["database", "timeout", "retry", "queue", "cache", "deploy", "rollback", "latency", "alert"]


def ordinary_document(size: int = SIZE, seed: int = 7) -> str:
    """A long narrative as people write them: sections with prose, emphasis, links, lists, a
    timeline table, code and quotes, about `size` characters."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)] + DOMAIN * 40

    def words(count: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(count))

    sections = []
    while sum(map(len, sections)) < size:
        n = len(sections)
        sections.append(
            f"## {words(4).capitalize()}\n\n"
            f"{words(40).capitalize()} **{words(2)}** {words(25)} [{words(2)}](https://runbooks.example.org/{n}) "
            f"and `{words(1)}_{n}`. {words(30).capitalize()}, *{words(3)}*.\n{words(20).capitalize()}.\n\n"
            f"- {words(8).capitalize()}\n- {words(10).capitalize()}\n  1. {words(6)}\n  2. {words(7)}\n\n"
            f"| When | What | Who |\n|:-----|:-----|----:|\n"
            + "".join(f"| 10:{m:02d} | {words(6)} | {words(1)} |\n" for m in range(0, 30, 6))
            + f"\n```python\nfor attempt in range({n % 5 + 2}):\n    client.retry(timeout=0.{n % 9 + 1})\n```\n\n"
            f"> {words(20).capitalize()}.\n\n"
        )
    return "".join(sections)


def best_seconds(function, argument, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = function(argument)
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
    import django

    django.setup()
    from reviews.markdown import gfm_html, sanitise_html

    def measure(text: str) -> tuple[float, float, int]:
        render_seconds, html = best_seconds(gfm_html, text, args.repeat)
        sanitise_seconds, _ = best_seconds(sanitise_html, html, args.repeat)
        return render_seconds, sanitise_seconds, len(html)

    ordinary = ordinary_document()
    base_render, base_sanitise, base_html = measure(ordinary)
    baseline = base_render + base_sanitise
    print(f"CPU time, best of {args.repeat} runs; render = cmark-gfm with ybiyri's guards, sanitise = nh3")
    header = (
        f"{'input':36s} {'chars':>8s} {'HTML':>9s} {'render':>9s} {'sanitise':>9s} {'total':>9s}  vs baseline"
    )
    print(header)
    print(
        f"{'baseline: ordinary narrative':36s} {len(ordinary):8,d} {base_html:9,d} {base_render * 1000:7.1f}ms "
        f"{base_sanitise * 1000:7.1f}ms {baseline * 1000:7.1f}ms  1.00×"
    )
    slowest = 0.0
    for name, text in pathological_inputs().items():
        render_seconds, sanitise_seconds, html_chars = measure(text)
        total = render_seconds + sanitise_seconds
        slowest = max(slowest, total)
        print(
            f"{name:36s} {len(text):8,d} {html_chars:9,d} {render_seconds * 1000:7.1f}ms "
            f"{sanitise_seconds * 1000:7.1f}ms {total * 1000:7.1f}ms  {total / baseline:4.2f}×"
        )
    verdict = "meets" if slowest < 1 else "MISSES"
    print(f"slowest input: {slowest * 1000:.0f} ms; target: well under a second — {verdict} it")


if __name__ == "__main__":
    main()
