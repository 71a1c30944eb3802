"""ball-fhir: FHIR R4 adapter for relapsed pediatric B-ALL (blinatumomab, autologous CD3+ cells).

Layers (arrows point down; see README "Architecture"):

    cli/, api.py                      thin edges: files, HTTP, settings, exit codes
    mapping/  validation/  protocol/  pure work; never import each other
    fhir.py  issues.py  terminology.py  packagecache.py   the small shared core
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
