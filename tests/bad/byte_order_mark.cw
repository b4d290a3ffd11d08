# expect: 4:17: undefined clock 'nope'
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when nope
output fuse(s1)
