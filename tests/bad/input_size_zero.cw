# expect: 2:21: input size must be at least 1x1
network fcn8s input 0x500
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
output fuse(s1)
