"""The parts of bench/poolbench.py, one concern each."""
