"""A Django app of step and stream files written against Motia 1.0's Python API (``from motia
import ...``), as a Motia project has them: installed in place of the examples by
``tests.motia_settings``, it is what ``tests/test_motia_steps.py`` runs end to end. Its folders
have no ``__init__.py``, as Motia's ``steps/`` folders often have none."""
