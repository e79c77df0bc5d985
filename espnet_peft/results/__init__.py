"""Result reporting, torch-free: ``scan`` reads a recipe's experiment directories into
rows (one per run and target domain, fields and status words in ``schema``), ``tables``
renders them in the papers' layout (markdown, CSV, LaTeX), ``plots`` draws them
(matplotlib; also ``curves``, training curves from ``train.log``, and ``ranks``, learned
rank distributions), and ``writers`` writes all the files. Method names, order, colours
and hyperparameter labels come from the method catalog (``espnet_peft.methods.catalog``).
``python -m espnet_peft.bin.collect_results`` is the command line."""
