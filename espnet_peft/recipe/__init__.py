"""Helpers the recipe stage script (egs2/TEMPLATE/peft1/peft.sh) calls: the methods to
run, training configs and run names, data checks, token lists, run descriptions and
scoring; ``python -m espnet_peft.recipe`` lists them (``__main__``)."""
