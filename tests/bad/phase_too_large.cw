# expect: 4:17: phase must be in 0 .. 3 for period 4, got 4
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when every 4 phase 4
output fuse(s1)
