# expect: 4:7: stage 's1' is already declared on line 3
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s1 = conv4_1 .. pool4 head score_pool4
compute s1 when 1
output fuse(s1)
