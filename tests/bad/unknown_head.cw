# expect: 3:34: unknown score head 'score_pool' in network fcn8s (heads: score_pool3, score_pool4, score_fr); did you mean 'score_pool4'?
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool
compute s1 when 1
output fuse(s1)
