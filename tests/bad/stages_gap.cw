# expect: 4:12: gap between stages 's1' and 's2': layers conv4_1 .. conv4_3 belong to no stage
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = pool4 .. fc7 head score_pool4, score_fr
compute s1 when 1
compute s2 when 1
output fuse(s1, s2)
