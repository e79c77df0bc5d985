"""Data helpers shared by the recipes and the tests: offline speech synthesis and
Kaldi-style data directories."""
