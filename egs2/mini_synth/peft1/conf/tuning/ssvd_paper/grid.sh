# The SSVD / SSVD-O papers' grid at the demo's scale, sourced by reproduce.sh: the
# paper's method settings (adapter/), the demo's optimiser (conf/adapt.yaml), SSVD k at
# the fractions of the paper's OWSM 0.1B settings (153, 239, 320 of 384), SSVD-O outer
# shares 0.25, 0.5, 0.75; S2-LoRA and AdaLoRA for the learned-rank heatmap. 24 adaptation
# runs; about 16 minutes on 2 CPU cores (estimate).
methods="zero_shot full lora dora pissa ssvd ssvd_o s2lora adalora"
sweep="ssvd:k_fraction=0.4,0.623,0.834 ssvd_o:budget_ratio=0.25,0.5,0.75"
declare -A model_sweep=()
