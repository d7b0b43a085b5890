"""The sample shop: a synthetic world with a known ground truth (generator, text, response model, oracle evaluation, simulation).

Product code never imports from here; the app loads the committed files through ``core.ingest.sample``.
"""
