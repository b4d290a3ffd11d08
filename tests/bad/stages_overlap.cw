# expect: 4:12: stage 's2' overlaps 's1': layers conv3_1 .. pool3 are in both
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv3_1 .. pool4 head score_pool4
compute s1 when 1
compute s2 when 1
output fuse(s1, s2)
