"""Facteur: the shared package shipped as a Lambda layer.

Layout: model/ (EN 16931 canonical invoice, directory, lifecycle), formats/ (one module
per syntax), controls/ (official rules and customer expectations), pipeline/ (the steps of an
invoice's path), tracking/ delivery/ reminders/ enrichment/ (domain), ports.py + adapters/
(AWS implementations, clients injected).
"""

__version__ = "0.1.0"
