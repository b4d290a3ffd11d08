# expect: 4:23: period must be a whole number, got 2.5
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when every 2.5
output fuse(s1)
