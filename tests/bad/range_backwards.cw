# expect: 3:21: stage 's1' runs backwards: 'conv1_1' comes before 'pool3' in fcn8s
network fcn8s
stage s1 = pool3 .. conv1_1 head score_pool3
compute s1 when 1
output fuse(s1)
