"""What the notebooks compute before they draw: runs read back, features and distances, fusions, flows.

``viz`` only draws; the modules here load models and runs (through ``engine``), train fusions, build the
notebook's Config and compute flows and their errors, then hand plain arrays and DataFrames to ``viz``.

- ``runs``: notebook 03 (its Config, metrics, scores, summary)
- ``features``: notebook 02 (FeatureStudy: teacher and students on the same clips)
- ``fusion``: notebook 04 (stream pairs, both fusions, the learned weights)
- ``ablation``: notebook 05 (runs collected into the paper's tables, the α sweep)
- ``tuning``: each distilling method's own α on the validation split (``bench/tune_alpha.py``)
- ``flows`` and ``inspection``: notebook 01 (videos, flows of every method, storage errors)
"""
