"""Evaluation: how good is a (customized) model on the repo's held-out split, and at what cost.

- ``metrics`` / ``codebleu`` / ``syntax``: text, structure and validity scores;
- ``sandbox``: runs untrusted generated tests with no network and hard limits;
- ``execution``: the per-language ladder builds → passes (3 runs) → covers the focal method;
- ``testgen`` / ``completion``: the two evaluation tasks; ``evaluate``: both for one model;
- ``report``: report.md / report.html with plots; ``gentests``: Cover-Agent style test generation.
"""
