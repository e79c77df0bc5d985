# The SSVD / SSVD-O papers' grid, sourced by reproduce.sh: methods, sweeps shared by every
# model, and the sweep of each model size (label given with reproduce.sh --models).
# SSVD k per model size (fractions of the rank in the paper, as ESPnet's k = int(d x ratio)):
# OWSM v3.1 0.1B (d = 384): 153/239/320; OWSM v3.1 1B (d = 1024): 227/256/292/341/409;
# OWLS 2B (d = 2048): 341/409/512. SSVD-O: outer shares 0.25, 0.5, 0.75 of the budget.
# Every method adapts attention, feed-forward and E-Branchformer's cgMLP/merge projections
# (adapter/*.yaml): with these, SSVD 40 % on OWSM 1B trains 31.69M, the paper's 31.9M less
# two 1024-wide projections it does not name (README). The cgMLP/merge projections are
# optional targets: on OWLS 2B (Transformer encoder) only attention and feed-forward adapt.
methods="zero_shot full lora dora pissa ssvd ssvd_o"
sweep="ssvd_o:budget_ratio=0.25,0.5,0.75"
declare -A model_sweep=(
    [owsm_v3.1_0.1b]="ssvd:k=153,239,320"
    [owsm_v3.1_1b]="ssvd:k=227,256,292,341,409"
    [owls_2b]="ssvd:k=341,409,512"
)
