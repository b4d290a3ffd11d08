# expect: 4:17: threshold θ must be in [0, 1], got -0.1
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when pixeldiff() > -0.1
output fuse(s1)
