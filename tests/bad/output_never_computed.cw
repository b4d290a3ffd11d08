# expect: 6:17: output fuses stage 's2', which is never computed
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
compute s1 when 1
output fuse(s1, s2)
