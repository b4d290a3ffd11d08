# expect: 4:12: unexpected '1'; expected 'when'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 1
output fuse(s1)
