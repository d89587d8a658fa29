"""GRPO training for embodied planning policies.

    from emx.train import Trainer, preset
    summary = Trainer(preset("tiny", out="runs/tiny")).run()      # or .run(resume=True)

Pieces: ``grpo`` (advantages, clipped loss, k3 KL), ``rewards.score`` (the one reward call),
``weight_sync`` (PyTorch -> vLLM), ``tiny_model`` / ``tiny_tasks`` (the local tiny preset),
``checkpoint`` and ``metrics``.
"""

from .config import PRESETS, TrainConfig, preset

__all__ = ["PRESETS", "TrainConfig", "Trainer", "preset"]


def __getattr__(name: str):
    # torch and vLLM are imported only when training is used
    if name == "Trainer":
        from .trainer import Trainer

        return Trainer
    raise AttributeError(name)
