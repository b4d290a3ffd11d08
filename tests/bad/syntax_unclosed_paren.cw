# expect: 5:1: unexpected 'output'; expected
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when (every 2 or every 3
output fuse(s1)
