"""Build the demo model: a tiny BERT that learned real LAMA T-REx facts (seeded, CPU, about a minute).

The facts are sentences from LAMA's own templates ('[X] was born in [Y] .'); training masks the object
(plus a share of other tokens), so the uncompressed model knows almost every fact, and compression
shows how that knowledge goes. Tokenizer: a cased WordPiece vocabulary of the facts' words, saved with
do_lower_case=False (transformers 5 re-reads that flag on load).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers as T
from tokenizers.pre_tokenizers import BertPreTokenizer

from .evaluate.lama_data import Fact, load_corpus, load_vocab

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MODEL_ID = "compression-leaderboard/demo-bert-trex"
_PRE = BertPreTokenizer()


def _words(text: str) -> list[str]:
    return [w for w, _span in _PRE.pre_tokenize_str(text)]


@dataclass
class DemoSpec:
    """Relations whose template does not end with the object (P27, P106, P140) contribute no fact: every
    demo fact can be probed by encoders, encoder-decoders and decoders alike."""

    n_facts: int = 1000
    relations: tuple[str, ...] = ("P17", "P19", "P20", "P27", "P30", "P36", "P37", "P103", "P106", "P1376", "P140", "P364")
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    ffn: int = 512
    epochs: int = 120
    batch_size: int = 100
    lr: float = 4e-3
    extra_mlm: float = 0.05
    seed: int = 0


def select_facts(lama_root: Path, spec: DemoSpec) -> list[Fact]:
    """Facts with one-word objects in LAMA's common vocabulary, spread over relations, seeded."""
    vocab, _ = load_vocab(lama_root)
    common = set(vocab)
    corpus = load_corpus(lama_root, "trex", relations=list(spec.relations))
    by_rel: dict[str, list[Fact]] = {}
    for f in corpus.facts:
        if f.obj in common and _words(f.obj) == [f.obj] and f.prefix() is not None:
            by_rel.setdefault(f.relation, []).append(f)
    rng = random.Random(spec.seed)
    for facts in by_rel.values():
        rng.shuffle(facts)
    per = -(-spec.n_facts // len(by_rel))
    chosen = [f for rel in spec.relations for f in by_rel.get(rel, [])[:per]][: spec.n_facts]
    return sorted(chosen, key=lambda f: (f.relation, f.id))


def build_tokenizer(facts: list[Fact]) -> T.PreTrainedTokenizerBase:
    words: dict[str, None] = {}
    for f in facts:
        for w in _words(f.text(f.obj)):
            words.setdefault(w, None)
    chars = sorted({c for w in words for c in w})
    vocab = SPECIALS + sorted(words) + [c for c in chars if c not in words] + [f"##{c}" for c in chars]
    ids = {w: i for i, w in enumerate(dict.fromkeys(vocab))}
    # transformers 5: BertTokenizerFast is BertTokenizer and takes `vocab=`; a `vocab_file=` is ignored
    tok = T.BertTokenizerFast(vocab=ids, do_lower_case=False, strip_accents=False, tokenize_chinese_chars=False,
                              model_max_length=64)
    if len(tok) != len(ids):
        raise RuntimeError(f"tokenizer has {len(tok)} tokens, expected {len(ids)}")
    return tok



def _train(model, n: int, spec, batch_loss, log, log_every: int):
    """AdamW with linear warm-up/decay over ``spec.epochs`` shuffled passes of ``n`` examples; one seeded
    generator draws the order (and whatever ``batch_loss(batch_indices, generator)`` draws). Returns the
    last loss; the model is left in eval mode."""
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.01)
    steps = spec.epochs * -(-n // spec.batch_size)
    sched = T.get_linear_schedule_with_warmup(opt, steps // 20, steps)
    gen = torch.Generator().manual_seed(spec.seed)
    model.train()
    loss = torch.tensor(0.0)
    for epoch in range(spec.epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, spec.batch_size):
            loss = batch_loss(perm[start : start + spec.batch_size], gen)
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
        if log and (epoch + 1) % log_every == 0:
            log(f"  epoch {epoch + 1}/{spec.epochs}: loss {loss.item():.3f}")
    model.eval()
    return loss

def train(lama_root: Path, out_dir: Path, spec: DemoSpec | None = None, log=print) -> dict:
    """Train and save the demo model into ``out_dir``; returns a summary (facts, loss, seconds)."""
    spec = spec or DemoSpec()
    t0 = time.perf_counter()
    torch.manual_seed(spec.seed)
    random.seed(spec.seed)
    facts = select_facts(Path(lama_root), spec)
    tok = build_tokenizer(facts)
    config = T.BertConfig(vocab_size=len(tok), hidden_size=spec.hidden, num_hidden_layers=spec.layers,
                          num_attention_heads=spec.heads, intermediate_size=spec.ffn, max_position_embeddings=64,
                          pad_token_id=tok.pad_token_id)
    model = T.BertForMaskedLM(config)
    enc = tok([f.text(tok.mask_token) for f in facts], padding=True, return_tensors="pt")
    ids, att = enc["input_ids"], enc["attention_mask"]
    gold = torch.tensor(tok.convert_tokens_to_ids([f.obj for f in facts]))
    if (gold == tok.unk_token_id).any():
        raise RuntimeError("an object is not a single token of the demo vocabulary")
    mask_pos = (ids == tok.mask_token_id).long().argmax(1)
    filled = ids.clone()
    filled[torch.arange(len(facts)), mask_pos] = gold

    def batch_loss(b, gen):
        x, a = filled[b].clone(), att[b]
        labels = torch.full_like(x, -100)
        rows = torch.arange(len(b))
        labels[rows, mask_pos[b]] = gold[b]  # the object, always
        extra = (torch.rand(x.shape, generator=gen) < spec.extra_mlm) & (a == 1) & (x > 4)
        labels[extra] = x[extra]  # plus a little ordinary MLM on other tokens
        x[rows, mask_pos[b]] = tok.mask_token_id
        x[extra] = tok.mask_token_id
        hidden = model.bert(input_ids=x, attention_mask=a).last_hidden_state
        sel = labels != -100  # the vocabulary projection only where there is a label
        return torch.nn.functional.cross_entropy(model.cls(hidden[sel]), labels[sel])

    loss = _train(model, len(facts), spec, batch_loss, log, log_every=10)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    summary = {"model_id": MODEL_ID, "facts": len(facts), "relations": sorted({f.relation for f in facts}), "final_loss": round(loss.item(), 4),
               "seconds": round(time.perf_counter() - t0, 1), "spec": spec.__dict__ | {"relations": list(spec.relations)}}
    (Path(out_dir) / "demo_model.json").write_text(json.dumps(summary, indent=2) + "\n")
    (Path(out_dir) / "facts.jsonl").write_text("".join(json.dumps({"uuid": f.id, "relation": f.relation}) + "\n" for f in facts))
    return summary


# --- the second demo model: a tiny decoder --------------------------------------------------------

DECODER_ID = "compression-leaderboard/demo-llama-trex-bear"
DECODER_SPECIALS = ["<|endoftext|>", "<unk>"]


@dataclass
class DecoderSpec:
    """A tiny Llama trained (causal LM loss) on the BERT demo model's 1,000 LAMA facts (all object-final)
    and on the true statements of the packaged BEAR sample (every template), so both families can be
    probed on the same facts: LAMA next-token ranking and BEAR statement likelihood."""

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    ffn: int = 256
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-2
    bear_repeat: int = 4  # BEAR statements are few: show each this many times per epoch
    seed: int = 0


def bear_statements(bear_root: Path) -> list[tuple[str, str]]:
    """(relation, true statement) for every instance and template of a BEAR folder (read as lm-pub-quiz
    fills templates: [X] -> subject label, [Y] -> answer label)."""
    meta = json.loads((Path(bear_root) / "BEAR" / "metadata_relations.json").read_text(encoding="utf-8"))
    out = []
    for rel in sorted(meta):
        for line in (Path(bear_root) / "BEAR" / f"{rel}.jsonl").read_text(encoding="utf-8").splitlines():
            inst = json.loads(line)
            for t in meta[rel]["templates"]:
                out.append((rel, t.replace("[X]", inst["sub_label"]).replace("[Y]", inst["obj_label"])))
    return out


def _decoder_words(text: str) -> list[str]:
    from tokenizers.pre_tokenizers import Punctuation, Sequence, WhitespaceSplit

    pre = Sequence([WhitespaceSplit(), Punctuation()])
    return [w for w, _span in pre.pre_tokenize_str(text)]


def build_decoder_tokenizer(texts: list[str], extra_words: list[str]) -> T.PreTrainedTokenizerBase:
    """Whole words (split at spaces and punctuation) of the training texts and of every BEAR answer option;
    a BOS token starts every sequence (the LAMA probe and lm-pub-quiz then see what training saw)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {tok: i for i, tok in enumerate(DECODER_SPECIALS)}
    for text in [*texts, *extra_words]:
        for w in _decoder_words(text):
            vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))  # noqa: S106 (a token, not a password)
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tk.post_processor = processors.TemplateProcessing(single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)])
    specials = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<unk>"}
    return T.PreTrainedTokenizerFast(tokenizer_object=tk, model_max_length=64, **specials)


def train_decoder(lama_root: Path, bear_root: Path, out_dir: Path, spec: DecoderSpec | None = None,
                  log=print) -> dict:
    """Train and save the demo decoder into ``out_dir``; returns a summary (facts, statements, loss, seconds)."""
    spec = spec or DecoderSpec()
    t0 = time.perf_counter()
    torch.manual_seed(spec.seed)
    random.seed(spec.seed)
    facts = select_facts(Path(lama_root), DemoSpec())  # the BERT demo model's facts, all object-final
    lama_texts = [f.text(f.obj) for f in facts]
    bear = bear_statements(bear_root)
    meta = json.loads((Path(bear_root) / "BEAR" / "metadata_relations.json").read_text(encoding="utf-8"))
    options = [label for rel in meta.values() for label in rel["answer_space_labels"]]
    tok = build_decoder_tokenizer(lama_texts + [s for _r, s in bear], options)
    texts = lama_texts + [s for _r, s in bear] * spec.bear_repeat
    config = T.LlamaConfig(vocab_size=len(tok), hidden_size=spec.hidden, num_hidden_layers=spec.layers,
                           num_attention_heads=spec.heads, num_key_value_heads=spec.heads,
                           intermediate_size=spec.ffn, max_position_embeddings=64, bos_token_id=0, eos_token_id=0,
                           pad_token_id=0, tie_word_embeddings=True)
    model = T.LlamaForCausalLM(config)
    enc = tok(texts, padding=True, return_tensors="pt")
    ids, att = enc["input_ids"], enc["attention_mask"]
    if (ids == tok.unk_token_id).any():
        raise RuntimeError("a training word is not in the demo decoder's vocabulary")
    labels_all = ids.masked_fill(att == 0, -100)

    def batch_loss(b, _gen):
        width = int(att[b].sum(1).max())
        return model(input_ids=ids[b, :width], attention_mask=att[b, :width], labels=labels_all[b, :width]).loss

    loss = _train(model, len(texts), spec, batch_loss, log, log_every=5)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    summary = {"model_id": DECODER_ID, "facts": len(facts), "bear_statements": len(bear),
               "relations": sorted({f.relation for f in facts}), "bear_relations": sorted({r for r, _s in bear}),
               "final_loss": round(loss.item(), 4), "seconds": round(time.perf_counter() - t0, 1),
               "spec": spec.__dict__}
    (Path(out_dir) / "demo_model.json").write_text(json.dumps(summary, indent=2) + "\n")
    (Path(out_dir) / "facts.jsonl").write_text("".join(json.dumps({"uuid": f.id, "relation": f.relation}) + "\n"
                                                       for f in facts))
    return summary
