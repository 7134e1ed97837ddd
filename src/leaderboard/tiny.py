"""Tiny models of every supported architecture and tokenizers built locally (no hub, no download).

Used by the tests, the demo model and the benchmarks. Widths are multiples of 64 so 4-bit
bitsandbytes blocks fit.
"""

from __future__ import annotations

import torch
import transformers as T
from tokenizers import Tokenizer, models, pre_tokenizers, processors

ARCHITECTURES = ("bert", "roberta", "distilbert", "albert", "t5", "gpt2", "opt", "gpt_neox", "llama")
FAMILY = {"bert": "encoder", "roberta": "encoder", "distilbert": "encoder", "albert": "encoder",
          "t5": "encoder-decoder", "gpt2": "decoder", "opt": "decoder", "gpt_neox": "decoder", "llama": "decoder"}

ENCODER_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
T5_SPECIALS = ["<pad>", "</s>", "<unk>"] + [f"<extra_id_{i}>" for i in range(4)]
DECODER_SPECIALS = ["<|endoftext|>", "<unk>"]


def config_for(arch: str, vocab_size: int, hidden: int = 64, layers: int = 2, heads: int = 2, ffn: int = 128,
               max_positions: int = 128) -> T.PretrainedConfig:
    common = {"vocab_size": vocab_size}
    if arch == "bert":
        return T.BertConfig(**common, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                            intermediate_size=ffn, max_position_embeddings=max_positions, pad_token_id=0)
    if arch == "roberta":
        return T.RobertaConfig(**common, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                               intermediate_size=ffn, max_position_embeddings=max_positions + 2, pad_token_id=0,
                               bos_token_id=2, eos_token_id=3)
    if arch == "distilbert":
        return T.DistilBertConfig(**common, dim=hidden, n_layers=layers, n_heads=heads, hidden_dim=ffn,
                                  max_position_embeddings=max_positions, pad_token_id=0)
    if arch == "albert":
        return T.AlbertConfig(**common, embedding_size=hidden, hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=max_positions,
                              pad_token_id=0, bos_token_id=2, eos_token_id=3)
    if arch == "t5":
        return T.T5Config(**common, d_model=hidden, d_kv=hidden // heads, d_ff=ffn, num_layers=layers,
                          num_heads=heads, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    if arch == "gpt2":
        return T.GPT2Config(**common, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=max_positions,
                            bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if arch == "opt":
        return T.OPTConfig(**common, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                           ffn_dim=ffn, word_embed_proj_dim=hidden, max_position_embeddings=max_positions,
                           pad_token_id=0, bos_token_id=0, eos_token_id=0)
    if arch == "gpt_neox":
        return T.GPTNeoXConfig(**common, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                               intermediate_size=ffn, max_position_embeddings=max_positions, bos_token_id=0,
                               eos_token_id=0, pad_token_id=0)
    if arch == "llama":
        return T.LlamaConfig(**common, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                             num_key_value_heads=heads, intermediate_size=ffn, max_position_embeddings=max_positions,
                             bos_token_id=0, eos_token_id=0, pad_token_id=0)
    raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")


def model_class(arch: str) -> type:
    return {"encoder": T.AutoModelForMaskedLM, "encoder-decoder": T.AutoModelForSeq2SeqLM,
            "decoder": T.AutoModelForCausalLM}[FAMILY[arch]]


def tiny_model(arch: str, vocab_size: int = 256, seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = model_class(arch).from_config(config_for(arch, vocab_size, **kw))
    return model.eval()


def word_tokenizer(words: list[str], arch: str, model_max_length: int = 128) -> T.PreTrainedTokenizerFast:
    """A whole-word tokenizer over ``words`` with the special tokens the family expects."""
    family = FAMILY[arch]
    specials = {"encoder": ENCODER_SPECIALS, "encoder-decoder": T5_SPECIALS, "decoder": DECODER_SPECIALS}[family]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for w in words:
        vocab.setdefault(w, len(vocab))
    unk = "[UNK]" if family == "encoder" else "<unk>"
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if family == "encoder":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        kw = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}
    elif family == "encoder-decoder":
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
        kw = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>",
              "additional_special_tokens": [f"<extra_id_{i}>" for i in range(4)]}
    else:
        kw = {"pad_token": "<|endoftext|>", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<unk>"}
    return T.PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length, **kw)
