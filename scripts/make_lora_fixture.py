"""Write tests/fixtures/smollm2-test-lora.gguf: a small random LoRA adapter (rank 4, the
query projections of the first 8 layers) for SmolLM2-135M, in llama.cpp's adapter GGUF
format. It carries no skill: the tests use it to prove that an adapter attached to a
profile is loaded and changes the model's output (and that scale 0 does not).

    python3 -m pip install gguf numpy && python3 scripts/make_lora_fixture.py
"""

import pathlib

import gguf
import numpy as np

N_EMBD = 576  # SmolLM2-135M hidden size; attn_q maps 576 -> 576
RANK = 4
LAYERS = 8
ALPHA = 8.0

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "smollm2-test-lora.gguf"
rng = np.random.default_rng(20261128)
writer = gguf.GGUFWriter(str(out), arch="llama")
writer.add_string("general.type", "adapter")
writer.add_string("adapter.type", "lora")
writer.add_float32("adapter.lora.alpha", ALPHA)
for layer in range(LAYERS):
    # numpy shapes are ggml's ne reversed: lora_a ne = [n_in, r], lora_b ne = [r, n_out].
    a = rng.normal(0.0, 0.5, size=(RANK, N_EMBD)).astype(np.float32)
    b = rng.normal(0.0, 0.5, size=(N_EMBD, RANK)).astype(np.float32)
    writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_a", a)
    writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_b", b)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
print(out, out.stat().st_size)
