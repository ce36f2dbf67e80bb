#!/usr/bin/env python3
"""Ingestion speed of a Python RAG pipeline (tokenizers + sentence-transformers, CPU): the
peer of the Rust ingestion in benches/run_rag.sh.

Chunking mirrors src/rag/chunker.rs (sentences packed into `size` tokens less the context
header, `overlap` tokens of whole sentences carried over, over-long sentences cut into token
windows, tables chunked apart and split between rows with the header row repeated), with
the model's own tokenizer.json; sentence splitting is that of src/utils/splitters.rs less
its abbreviation handling. Every chunk is then embedded as `header + "\\n" + text`.
Prints one JSON object with the chunking and embedding times and the peak RSS. Not a test.

    python3 benches/rag_ingest_peer.py --model DIR --docs FILE.jsonl [--size 192] [--overlap 32]
        [--batch-size 64] [--threads 2]
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

CLOSERS = "\"')]"


def starts_sentence(c: str) -> bool:
    return ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "\"'([$"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans: `.`, `!` or `?` (then closing quotes/brackets), a space, a capital."""
    spans, start, i, n = [], 0, 0, len(text)
    while i < n:
        if text[i] in ".!?":
            end = i + 1
            while end < n and text[end] in CLOSERS:
                end += 1
            if end + 1 < n and text[end] == " " and starts_sentence(text[end + 1]):
                spans.append((start, end))
                start = i = end + 1
                continue
        i += 1
    tail = text[start:].rstrip()
    if tail:
        spans.append((start, start + len(tail)))
    return spans


def render(blocks: list[dict]) -> tuple[str, list[tuple[str, object]]]:
    """The document's text and its blocks: ("p", span) or ("t", [row spans])."""
    text, out = "", []
    for block in blocks:
        if text:
            text += "\n\n"
        if "table" in block:
            rows = []
            for i, row in enumerate(block["table"]):
                if i:
                    text += "\n"
                start = len(text)
                text += ("| " + " | ".join(map(str, row)) + " |") if row else "|"
                rows.append((start, len(text)))
            out.append(("t", rows))
        else:
            start = len(text)
            text += block["paragraph"]
            out.append(("p", (start, len(text))))
    return text, out


class Chunker:
    def __init__(self, tokenizer, size: int, overlap: int):
        self.tok, self.size, self.overlap = tokenizer, size, overlap

    def count(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False).ids)

    def chunk(self, doc: dict, header_tokens: int) -> list[str]:
        budget = max(self.size - header_tokens, 8)
        overlap = min(self.overlap, budget // 2)
        text, blocks = render(doc.get("blocks", []))
        out: list[str] = []
        prose: list[tuple[int, int, int]] = []  # (start, end, tokens)
        fresh = False  # whether `prose` holds a sentence not yet emitted

        def flush(carry: bool) -> None:
            nonlocal fresh
            if fresh and prose:
                out.append(text[prose[0][0] : prose[-1][1]])
            fresh = False
            if not carry:
                prose.clear()
                return
            kept, start = 0, len(prose)
            while start > 0 and kept + prose[start - 1][2] <= overlap:
                kept += prose[start - 1][2]
                start -= 1
            del prose[:start]

        for kind, spans in blocks:
            if kind == "t":
                flush(False)
                self.table(text, spans, budget, out)
                continue
            base = spans[0]
            for s, e in sentence_spans(text[spans[0] : spans[1]]):
                s, e = base + s, base + e
                tokens = self.count(text[s:e])
                if tokens > budget:
                    flush(False)
                    self.windows(text, s, e, budget, overlap, out)
                    continue
                if sum(u[2] for u in prose) + tokens > budget:
                    flush(True)
                    while prose and sum(u[2] for u in prose) + tokens > budget:
                        prose.pop(0)
                prose.append((s, e, tokens))
                fresh = True
        flush(False)
        return out

    def windows(self, text: str, s: int, e: int, budget: int, overlap: int, out: list[str]) -> None:
        """Token windows of one over-long sentence (offsets are characters of `text[s:e]`)."""
        offsets = self.tok.encode(text[s:e], add_special_tokens=False).offsets
        step, i = max(budget - overlap, 1), 0
        while i < len(offsets):
            j = min(i + budget, len(offsets))
            out.append(text[s + offsets[i][0] : s + offsets[j - 1][1]])
            if j == len(offsets):
                break
            i += step

    def table(self, text: str, rows: list[tuple[int, int]], budget: int, out: list[str]) -> None:
        """Whole when it fits, else parts between rows with the header row repeated."""
        if not rows:
            return
        counts = [self.count(text[a:b]) for a, b in rows]
        if sum(counts) <= budget or len(rows) == 1:
            out.append(text[rows[0][0] : rows[-1][1]])
            return
        header = text[rows[0][0] : rows[0][1]]
        room = max(budget - counts[0], 1)
        start, first = 1, True
        while start < len(rows):
            end, used = start, 0
            while end < len(rows) and (end == start or used + counts[end] <= room):
                used += counts[end]
                end += 1
            if first:
                out.append(text[rows[0][0] : rows[end - 1][1]])
            else:
                out.append(header + "\n" + text[rows[start][0] : rows[end - 1][1]])
            first, start = False, end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the minilm-l6-v2 directory of the model store")
    parser.add_argument("--docs", type=Path, required=True, help="JSONL: {id, header, blocks}")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    # Before torch is imported: offline, and the thread count for OpenMP / MKL too.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    torch.set_num_threads(args.threads)
    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    chunker = Chunker(tokenizer, args.size, args.overlap)
    with args.docs.open(encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]

    model = SentenceTransformer(str(args.model), device="cpu")
    model.max_seq_length = 256
    model.encode([f"warm-up sentence {i}." for i in range(8)], batch_size=args.batch_size, normalize_embeddings=True)

    started = time.perf_counter()
    texts = []
    for doc in docs:
        header = doc.get("header") or ""
        header_tokens = chunker.count(header) + 1 if header else 0
        for chunk in chunker.chunk(doc, header_tokens):
            texts.append(f"{header}\n{chunk}" if header else chunk)
    chunk_s = time.perf_counter() - started

    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    embed_s = time.perf_counter() - started
    assert vectors.shape[0] == len(texts)

    total = chunk_s + embed_s
    print(
        json.dumps(
            {
                "impl": "python (tokenizers + sentence-transformers)",
                "documents": len(docs),
                "chunks": len(texts),
                "chunk_seconds": round(chunk_s, 4),
                "embed_seconds": round(embed_s, 4),
                "total_seconds": round(total, 4),
                "chunks_per_s": round(len(texts) / total, 1) if total > 0 else None,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # KiB on Linux
                "torch_threads": torch.get_num_threads(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
