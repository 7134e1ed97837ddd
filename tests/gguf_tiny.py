"""Tiny GGUF checkpoints written in the tests with the ``gguf`` package itself (llama.cpp's layout).

A tiny Llama (tiny.tiny_model) is written as llama.cpp's converter writes one: tensors under GGUF names (q and
k permuted for its rotary layout), the chosen GGML type for 2-D weights, F32 for norms, and a byte-level BPE
vocabulary ("gpt2" tokenizer model) whose merges spell out the given words as single tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def byte_bpe(words: list[str]) -> tuple[list[str], list[str]]:
    """(tokens, merges): the 256 byte symbols, then ' word' built char by char for each word (ASCII words)."""
    sym = _bytes_to_unicode()
    tokens = ["<|endoftext|>"] + [sym[b] for b in range(256)]
    merges: list[str] = []
    have = set(tokens)
    for w in words:
        text = "".join(sym[b] for b in (" " + w).encode())
        for k in range(2, len(text) + 1):
            piece = text[:k]
            if piece not in have:
                merges.append(f"{text[:k - 1]} {text[k - 1]}")
                tokens.append(piece)
                have.add(piece)
    return tokens, merges


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_llama(path: Path, words: list[str], qtype: str = "Q8_0", seed: int = 0):
    """Write a tiny Llama GGUF over ``words``; returns the in-memory transformers model it encodes (float32)."""
    import gguf
    import torch
    from gguf import quants

    from leaderboard.tiny import tiny_model

    tokens, merges = byte_bpe(words)
    model = tiny_model("llama", vocab_size=len(tokens), seed=seed)
    cfg = model.config
    torch.manual_seed(seed)
    with torch.no_grad():  # tiny_model starts norms at 1: give them values, so a misread one shows
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"] if getattr(cfg, "rope_parameters", None) else 10000.0)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_vocab_size(len(tokens))
    w.add_file_type(gguf.LlamaFileType[f"MOSTLY_{qtype}"] if qtype != "F32" else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * (len(tokens) - 1))
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.add_add_bos_token(False)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    q = gguf.GGMLQuantizationType[qtype]
    for name, p in model.state_dict().items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        data = p.detach().float().numpy()
        if name.endswith("q_proj.weight"):
            data = _permute(data, cfg.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            data = _permute(data, cfg.num_key_value_heads)
        gname = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if data.ndim == 2 and qtype != "F32":
            w.add_tensor(gname, quants.quantize(np.ascontiguousarray(data), q), raw_dtype=q)
        else:
            w.add_tensor(gname, np.ascontiguousarray(data))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return model
