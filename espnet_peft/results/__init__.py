"""Result reporting: paper-layout tables (markdown, CSV, LaTeX) and matplotlib plots of
the rows that ``espnet_peft.results.scan.collect`` scans from experiment directories.
``python -m espnet_peft.bin.collect_results`` writes all of them."""
