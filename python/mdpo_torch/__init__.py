"""mDPO Studio's torch engine: PyTorch + transformers + PEFT behind the app's trainer protocol.

Laid out like src/core: objective/ (the loss and its variants), data/ (records, images, chat
template, batches), models/ (loading, placement, memory, LoRA), train/ (loop, checkpoints).
engine.py runs one job; trainer.py speaks the protocol (python -m mdpo_torch.trainer).
"""
__version__ = "0.1.0"
