"""Copy generation: briefs, facts written by code, hooks written by a local model, guardrails.

Import from the submodules (``brief``, ``settings``, ``facts``, ``layouts``, ``hooks``, ``sense``,
``guardrails``, ``sources``, ``model``, ``decode``, ``generate``, ``view``, ``working_set``); this
package file stays light so that importing a brief does not import torch.
"""
