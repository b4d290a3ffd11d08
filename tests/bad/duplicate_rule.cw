# expect: 5:9: stage 's1' already has a compute rule on line 4
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
compute s1 when every 2
output fuse(s1)
