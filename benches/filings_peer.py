#!/usr/bin/env python3
"""Inline-XBRL filing parsing with edgartools: the peer of benches/filings.rs.

Same files (every *.html / *.html.gz of DIR, gunzipped into memory first, not timed), same
number of passes, one thread. Per file, the work edgartools does for `Filing.parse()` on a
local string, i.e. `edgar.documents.HTMLParser(ParserConfig(form=...)).parse(html)`:
- facts: the inline-XBRL facts it extracts while parsing (`Document.xbrl_facts`, contexts and
  units resolved, transforms / scale / sign applied); the numeric ones (`ix:nonFraction`,
  those with a unit) are converted to float and deduplicated by concept, context and unit,
  as the Rust parser does;
- sections: `Document.sections` (the Items, hybrid TOC / heading / pattern detection) and
  every Item's `text()`, as the Rust side renders `Section::text`.
The form (10-K / 10-Q) comes from the file name, as `Filing.parse()` passes `filing.form`.
edgartools' caches that would let a later pass reuse an earlier one's work (the navigation
pattern cache keyed by the document's hash, on disk and in memory, and the parser's style
and pattern caches) are cleared before each pass; its data and cache directories point at
a temporary directory, and nothing is fetched. A file that fails in any step is counted
and reported, not fatal.

Prints one JSON object with the keys of the Rust bench. Not a test; see
benches/run_filings.sh.

    python3 benches/filings_peer.py [--data DIR] [--passes 3]
"""

import argparse
import gzip
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "filings" / "html"
FALLBACK_DATA = ROOT / "data" / "filings"


def load(directory: Path) -> list[tuple[str, str]]:
    paths = sorted(
        p for p in directory.iterdir() if p.name.endswith((".html", ".htm", ".html.gz"))
    )
    if not paths:
        raise SystemExit(f"no .html / .html.gz filings in {directory}")
    out = []
    for p in paths:
        data = p.read_bytes()
        if p.name.endswith(".gz"):
            data = gzip.decompress(data)
        out.append((p.name, data.decode("utf-8", errors="replace")))
    return out


def form_of(name: str) -> str:
    lower = name.lower()
    return "10-Q" if "10-q" in lower else "10-K"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    if args.passes < 1:
        raise SystemExit("--passes must be at least 1")

    # Before edgar is imported: a dummy identity, private data / cache directories.
    scratch = tempfile.mkdtemp(prefix="edgartools-bench-")
    os.environ.setdefault("EDGAR_IDENTITY", "Bullpen benchmark bench@example.invalid")
    os.environ["EDGAR_LOCAL_DATA_DIR"] = scratch
    os.environ["EDGAR_CACHE_DIR"] = scratch
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    import edgar
    from edgar.documents import HTMLParser, ParserConfig
    from edgar.documents.utils import get_cache_manager
    from edgar.documents.utils.anchor_cache import _anchor_cache

    filings = load(args.data)
    html_bytes = sum(len(h.encode("utf-8")) for _, h in filings)

    per_file_ms = []
    facts = facts_all = sections = text_chars = 0
    errors: dict[str, str] = {}
    seconds = 0.0
    for pass_ in range(args.passes):
        # Every pass starts as cold as the first: no cross-pass caches.
        _anchor_cache.clear_cache()
        get_cache_manager().clear_all()
        started = time.perf_counter()
        for name, html in filings:
            t = time.perf_counter()
            step = "parse"
            try:
                doc = HTMLParser(ParserConfig(form=form_of(name))).parse(html)
                step = "facts"
                all_facts = doc.xbrl_facts
                numeric = {}
                for f in all_facts:
                    if f.unit_ref is None:
                        continue
                    try:
                        value = float(f.value)
                    except (TypeError, ValueError):
                        continue
                    numeric.setdefault((f.concept, f.context_ref, f.unit_ref), value)
                step = "sections"
                items = doc.sections
                step = "section text"
                chars = sum(len((s.text() or "").encode("utf-8")) for s in items.values())
                ok = (len(numeric), len(all_facts), len(items), chars)
            except Exception as e:  # noqa: BLE001 - counted and reported, not fatal
                ok = None
                if pass_ == 0:
                    errors[name] = f"{step}: {type(e).__name__}: {e}"[:300]
            per_file_ms.append((time.perf_counter() - t) * 1000)
            if ok and pass_ == 0:
                facts += ok[0]
                facts_all += ok[1]
                sections += ok[2]
                text_chars += ok[3]
        seconds += time.perf_counter() - started

    shutil.rmtree(scratch, ignore_errors=True)
    parsed = len(filings) * args.passes
    print(
        json.dumps(
            {
                "impl": "edgartools",
                "filings_per_s": round(parsed / seconds, 2),
                "mb_per_s": round(html_bytes * args.passes / seconds / 1e6, 2),
                "per_file_median_ms": round(statistics.median(per_file_ms), 2),
                "per_file_max_ms": round(max(per_file_ms), 2),
                "files": len(filings),
                "passes": args.passes,
                "seconds": round(seconds, 3),
                "html_mb": round(html_bytes / 1e6, 2),
                "facts": facts,
                "facts_all": facts_all,
                "sections": sections,
                "section_text_mb": round(text_chars / 1e6, 2),
                "errors": len(errors),
                "error_files": [f"{k}: {v}" for k, v in errors.items()],
                "threads": 1,
                "edgartools_version": edgar.__version__,
                "data": str(args.data),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
