"""ESPnet integration: the adapter table, task/trainer subclasses, files a training run
writes, adapter-safe model loading, encoder/decoder choices, and what the entry points
for parameter counts and the benchmark build on."""
