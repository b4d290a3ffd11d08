# expect: 4:17: a constant clock is 0 or 1, got 2
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 2
output fuse(s1)
