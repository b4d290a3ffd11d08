# A user network staged from Python: run with the plugin that registers it,
#   cwdsl --plugin examples/custom_backbone.py check examples/custom_backbone.cw
# The shallow stage (a skip feature map and scores) runs on every frame, the deep one on every other frame.
network toynet input 96x128

stage s1 = stem .. down2  head skip_d1, score_d2
stage s2 = down3 .. down3 head score_d3

clock even = every 2

compute s1 when 1
compute s2 when even else cache

output fuse(s1, s2)
