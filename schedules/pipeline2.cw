# 2-stage pipeline: conv1-pool4 (score_pool3 and score_pool4) on frame t beside
# conv5-fc7 (score_fr) on frame t-1. Paper §5.1, Tables 3 and 4, "2-Stage Pipeline"
# (77% of the full latency).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool4 head score_pool3, score_pool4
stage s2 = conv5_1 .. fc7   head score_fr

compute s1 when 1
compute s2 when 1 delay 1

output fuse(s1, s2)
