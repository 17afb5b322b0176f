"""Measuring nets: speed (this module's ``speed``), and quality on benchmarks."""
