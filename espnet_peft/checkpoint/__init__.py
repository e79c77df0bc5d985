"""What is saved and loaded: adapter state dicts, the adapter file format (safetensors +
metadata), the HF peft key mapping, and torch I/O that runs no pickled code."""
