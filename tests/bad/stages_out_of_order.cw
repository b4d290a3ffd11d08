# expect: 4:12: stages out of order: 's1' starts at 'conv1_1', before 's2'
network fcn8s
stage s2 = conv4_1 .. pool4 head score_pool4
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
compute s2 when 1
output fuse(s1, s2)
