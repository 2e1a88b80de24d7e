"""A real tiny model steered through a forward hook: towards a scripted answer per prompt, plus seeded noise.

The model's own forward pass runs (its cost is real); the hook adds `bias` to the logit of the script's next token at
each step and, when `noise` > 0, seeded Gaussian noise to every logit, which makes "any model" for property tests.
It counts forward calls (decoding steps) too.
"""

from __future__ import annotations

from contextlib import contextmanager


class Steering:
    def __init__(self, tokenizer, scripts: dict[str, str], *, bias: float = 100.0, noise: float = 0.0, seed: int = 0):
        import torch

        self.tokenizer = tokenizer
        # Keyed by the prompt's text as decoded from the model's input (special tokens and padding dropped).
        self.scripts = {prompt: tokenizer.encode(answer, add_special_tokens=False)
                        for prompt, answer in scripts.items()}
        self.bias, self.noise = bias, noise
        self.generator = torch.Generator().manual_seed(seed)
        self.calls = 0
        self.step = 0
        self.rows: list[list[int] | None] = []

    def hook(self, module, args, kwargs, output):
        import torch

        ids = kwargs.get("input_ids")
        if ids is None:
            ids = args[0]
        if ids.shape[1] > 1:  # the prefill of a new generate() call: which prompt is in which row
            self.step = 0
            decoded = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
            self.rows = [self.scripts.get(text) for text in decoded]
        else:
            self.step += 1
        self.calls += 1
        logits = output.logits[:, -1, :]
        if self.noise:
            logits += self.noise * torch.randn(logits.shape, generator=self.generator).to(logits.device, logits.dtype)
        for row, script in enumerate(self.rows):
            if script is not None and self.step < len(script):
                logits[row, script[self.step]] += self.bias
        return output


@contextmanager
def steered(model, tokenizer, scripts: dict[str, str], **kwargs):
    """`model` steered by a `Steering` for the duration of the block (yields the Steering)."""
    steering = Steering(tokenizer, scripts, **kwargs)
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    handle = target.register_forward_hook(steering.hook, with_kwargs=True)
    try:
        yield steering
    finally:
        handle.remove()
