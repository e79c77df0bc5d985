"""Helpers the recipe stage script (egs2/TEMPLATE/peft1/peft.sh) calls: training
configs, token lists, scoring and result tables."""
