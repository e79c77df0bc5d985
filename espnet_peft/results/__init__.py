"""Result reporting, torch-free: ``scan`` reads a recipe's experiment directories into
rows (one per run and target domain, fields and status words in ``schema``), ``tables``
renders them in the papers' layout (markdown, CSV, LaTeX), ``plots`` draws them
(matplotlib; also ``curves``, training curves from ``train.log``, and ``ranks``, learned
rank distributions), ``selection`` chooses each method's configuration on the dev sets,
and ``writers`` writes all the files. ``bootstrap`` gives the 95 % intervals that
scoring stores with every error rate. Method names, order, colours
and hyperparameter labels come from the method catalog (``espnet_peft.methods.catalog``).
``python -m espnet_peft.bin.collect_results`` and ``select_configs`` are the command lines."""
