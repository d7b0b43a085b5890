"""Copy generation: briefs, prompts, a local language model, guardrails.

Import from the submodules (``core.generation.brief``, ``.settings``,
``.prompt``, ``.guardrails``, ``.model``, ``.generate``); this package file
stays light so that importing a brief does not import torch.
"""
