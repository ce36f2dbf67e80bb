#!/usr/bin/env python3
"""Embedding throughput of sentence-transformers (PyTorch, CPU): the peer of benches/embed.rs.

Same data (the first N Financial PhraseBank sentences), same model directory, same batch
size, same thread count, same truncation (max_seq_length). Prints one JSON object:
{"impl", "sentences_per_s", "peak_rss_mb", ...}. Not a test; see benches/run_embed.sh.

    python3 benches/embed_peer.py --model DIR [--data FILE] [--n 1000] [--batch-size 64] [--threads 2]
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "eval" / "financial_phrasebank_Sentences_50Agree.txt"


def load_sentences(path: Path, n: int) -> list[str]:
    """`sentence@label` lines, CRLF, UTF-8 with a BOM (a non-UTF-8 line is read as Latin-1)."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    sentences = []
    for raw in data.split(b"\n"):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        line = line.rstrip("\r")
        sentence = line.rsplit("@", 1)[0] if "@" in line else line
        sentence = sentence.strip()
        if sentence:
            sentences.append(sentence)
        if len(sentences) == n:
            return sentences
    raise SystemExit(f"{path} holds only {len(sentences)} sentences, {n} wanted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the minilm-l6-v2 directory of the model store")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    # Before torch is imported: offline, and the thread count for OpenMP / MKL too.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    sentences = load_sentences(args.data, args.n)

    started = time.perf_counter()
    model = SentenceTransformer(str(args.model), device="cpu")
    model.max_seq_length = args.max_length
    load_s = time.perf_counter() - started
    # Warm-up, as the Rust side does.
    model.encode(sentences[:8], batch_size=args.batch_size, normalize_embeddings=True)

    started = time.perf_counter()
    vectors = model.encode(sentences, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.perf_counter() - started
    assert vectors.shape[0] == len(sentences)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "impl": "sentence-transformers",
                "sentences_per_s": round(len(sentences) / seconds, 1),
                "peak_rss_mb": round(peak_rss_mb),
                "sentences": len(sentences),
                "seconds": round(seconds, 3),
                "load_s": round(load_s, 3),
                "batch_size": args.batch_size,
                "max_length": model.max_seq_length,
                "threads": torch.get_num_threads(),
                "sentence_transformers_version": sentence_transformers.__version__,
                "torch_version": torch.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
