"""structflow: structure-aware person image generation (Tang et al., AAAI 2021) as notebooks and a library.

The modules are generated from nbs/ by nbdev; this file (the only hand-written one) gives the
shortcut `structflow.load_pretrained(name)` without importing torch until it is used."""
__version__ = "0.1.0"

def __getattr__(name):
    if name in ('load_pretrained', 'available_pretrained'):
        from . import checkpoint
        return getattr(checkpoint, name)
    raise AttributeError(f"module 'structflow' has no attribute {name!r}")
