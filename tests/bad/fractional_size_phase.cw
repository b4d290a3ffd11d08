# expect: 4:31: phase must be a whole number, got 1.5
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when every 4 phase 1.5
output fuse(s1)
