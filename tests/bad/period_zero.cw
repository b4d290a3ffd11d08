# expect: 4:17: period must be at least 1, got 0
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when every 0
output fuse(s1)
