"""The probe: the program in the Job. checks/ holds one module per check type behind one
registry (checks.registry), run by `releaseguard probe`; what it reports is contract.py's
report, built with report.py."""
