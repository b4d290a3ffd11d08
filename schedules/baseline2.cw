# 2-stage truncated baseline: the FCN cut after pool4, fusing score_pool3 and
# score_pool4 only; the latency of the 2-stage pipeline.
# Paper Tables 3 and 4, "2-Stage Baseline" (77% of full).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool4 head score_pool3, score_pool4

compute s1 when 1

output fuse(s1)
