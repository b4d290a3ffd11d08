# 3-stage truncated baseline: the FCN cut after its first stage (conv1-pool3), scored
# by score_pool3 alone; the latency of the 3-stage pipeline with no deep features.
# Paper Tables 3 and 4, "3-Stage Baseline" (59% of full).
# Truncated fuse: the missing deeper scores add nothing to the skip sum.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3

compute s1 when 1

output fuse(s1)
