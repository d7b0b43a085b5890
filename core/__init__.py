"""CopyLift core: data store, import, segments, copy generation, prediction, strategy.

Nothing in this package imports Streamlit; pages call into it and translate its
errors (``core.errors``) into messages for the user.
"""

__version__ = "0.1.0"
