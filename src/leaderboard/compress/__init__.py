"""Standardized compression: scopes resolved per architecture, pruning, quantization, pipelines."""

import logging

# On CPUs with AVX512-BF16, bitsandbytes (imported by us, transformers or llm-compressor) tries to fetch a 4-bit
# kernel from the Hugging Face hub (package `kernels`) and warns "Failed to load ..." when it cannot; its built-in
# CPU path is what runs (and what the committed runs used). Nothing here fetches from a hub unasked.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
